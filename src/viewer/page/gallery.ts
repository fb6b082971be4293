/**
 * The mesh gallery: one card per mesh file, each with its own scene, camera and orbit controls,
 * all drawn by a single WebGL renderer into the page-wide canvas, clipped to each card's view
 * (browsers cap live WebGL contexts at about 16, and a gallery has more cards than that).
 * Frames are drawn on demand, not in a loop: an idle page costs nothing.
 */
import * as THREE from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import { type MeshEntry, decodeMeshPayload } from "../protocol.ts";

const MESH_COLOR = 0xd9c7a7;
const EDGE_COLOR = 0x2b2f36;
const VIEW_BACKGROUND = new THREE.Color(0xe9e9e4);

class Card {
  readonly element: HTMLElement;
  readonly view: HTMLElement;
  private readonly counts: HTMLElement;
  readonly scene = new THREE.Scene();
  readonly camera = new THREE.PerspectiveCamera(35, 1, 0.01, 100);
  readonly controls: OrbitControls;
  private solid: THREE.Mesh<THREE.BufferGeometry, THREE.MeshStandardMaterial> | null = null;
  private edges: THREE.LineSegments | null = null;
  version = "";

  constructor(
    readonly path: string,
    private readonly gallery: Gallery,
  ) {
    this.element = document.createElement("figure");
    this.element.className = "card";
    this.element.style.margin = "0";
    this.element.dataset.path = path;
    this.view = document.createElement("div");
    this.view.className = "view";
    const caption = document.createElement("figcaption");
    caption.className = "caption";
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = path;
    name.title = path;
    this.counts = document.createElement("div");
    this.counts.className = "counts";
    caption.append(name, this.counts);
    this.element.append(this.view, caption);

    this.scene.background = VIEW_BACKGROUND;
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x6f6a5e, 1.2));
    // The key light rides with the camera (the side facing the viewer is always lit), from
    // above and to the side, so faces turned different ways get different shades.
    const key = new THREE.DirectionalLight(0xffffff, 2.2);
    key.position.set(1.2, 1.5, 0.6);
    this.camera.add(key);
    this.scene.add(this.camera);
    this.camera.position.set(1.9, 1.3, 2.5);
    this.controls = new OrbitControls(this.camera, this.view);
    this.controls.addEventListener("change", () => gallery.requestRender());
  }

  /** Shows the entry's counts and (re)loads its geometry when the file changed. */
  async show(entry: MeshEntry): Promise<void> {
    if (entry.version === this.version) return;
    this.version = entry.version;
    if (entry.error !== undefined) {
      this.setCounts(entry.error, true);
      this.clearGeometry();
      this.gallery.requestRender();
      return;
    }
    this.setCounts(`${entry.faces.toLocaleString("en-US")} faces · ${entry.vertices.toLocaleString("en-US")} vertices`, false);
    this.element.dataset.faces = String(entry.faces);
    this.element.dataset.vertices = String(entry.vertices);
    const response = await fetch(`api/mesh?path=${encodeURIComponent(entry.path)}`);
    if (!response.ok) {
      this.setCounts(await response.text(), true);
      return;
    }
    if (this.version !== entry.version) return; // a newer version arrived while this one loaded
    this.setGeometry(decodeMeshPayload(await response.arrayBuffer()));
    this.element.dataset.loaded = "true";
    this.gallery.requestRender();
  }

  private setCounts(text: string, isError: boolean): void {
    this.counts.textContent = text;
    this.counts.className = isError ? "counts error" : "counts";
  }

  private setGeometry({ positions, indices }: { positions: Float32Array; indices: Uint32Array }): void {
    this.clearGeometry();
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute("position", new THREE.BufferAttribute(positions, 3));
    geometry.setIndex(new THREE.BufferAttribute(indices, 1));
    // Every mesh fills its view the same way: centred on its bounding sphere, radius 1.
    geometry.computeBoundingSphere();
    const sphere = geometry.boundingSphere!;
    const scale = sphere.radius > 0 ? 1 / sphere.radius : 1;
    geometry.translate(-sphere.center.x, -sphere.center.y, -sphere.center.z);
    geometry.scale(scale, scale, scale);
    geometry.computeVertexNormals();
    const material = new THREE.MeshStandardMaterial({
      color: MESH_COLOR,
      roughness: 0.75,
      metalness: 0,
      side: THREE.DoubleSide,
      flatShading: this.gallery.flat,
      // Pushes faces back a little so the edge overlay is not hidden by them.
      polygonOffset: true,
      polygonOffsetFactor: 1,
      polygonOffsetUnits: 1,
    });
    this.solid = new THREE.Mesh(geometry, material);
    this.edges = new THREE.LineSegments(new THREE.WireframeGeometry(geometry), new THREE.LineBasicMaterial({ color: EDGE_COLOR }));
    this.edges.visible = this.gallery.wireframe;
    this.scene.add(this.solid, this.edges);
  }

  private clearGeometry(): void {
    for (const object of [this.solid, this.edges]) {
      if (!object) continue;
      this.scene.remove(object);
      object.geometry.dispose();
      (object.material as THREE.Material).dispose();
    }
    this.solid = null;
    this.edges = null;
  }

  applyStyle(): void {
    if (this.edges) this.edges.visible = this.gallery.wireframe;
    if (this.solid && this.solid.material.flatShading !== this.gallery.flat) {
      this.solid.material.flatShading = this.gallery.flat;
      this.solid.material.needsUpdate = true;
    }
  }

  dispose(): void {
    this.clearGeometry();
    this.controls.dispose();
    this.element.remove();
  }
}

export class Gallery {
  private readonly renderer: THREE.WebGLRenderer;
  private readonly cards = new Map<string, Card>();
  private frameRequested = false;
  wireframe = false;
  flat = true;

  constructor(
    private readonly container: HTMLElement,
    canvas: HTMLCanvasElement,
  ) {
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, alpha: true });
    this.renderer.setPixelRatio(window.devicePixelRatio);
    for (const event of ["resize", "scroll"]) window.addEventListener(event, () => this.requestRender(), { passive: true });
    new ResizeObserver(() => this.requestRender()).observe(container);
  }

  /** Makes the cards match `entries` (in that order); loads new and changed meshes. */
  async update(entries: MeshEntry[]): Promise<void> {
    const wanted = new Set(entries.map((e) => e.path));
    for (const [path, card] of this.cards) {
      if (wanted.has(path)) continue;
      card.dispose();
      this.cards.delete(path);
    }
    const loads: Promise<void>[] = [];
    entries.forEach((entry, i) => {
      let card = this.cards.get(entry.path);
      if (!card) {
        card = new Card(entry.path, this);
        this.cards.set(entry.path, card);
      }
      if (this.container.children[i] !== card.element) this.container.insertBefore(card.element, this.container.children[i] ?? null);
      loads.push(card.show(entry));
    });
    this.requestRender();
    await Promise.all(loads);
  }

  setStyle(style: { wireframe: boolean; flat: boolean }): void {
    this.wireframe = style.wireframe;
    this.flat = style.flat;
    for (const card of this.cards.values()) card.applyStyle();
    this.requestRender();
  }

  requestRender(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.render();
    });
  }

  private render(): void {
    const canvas = this.renderer.domElement;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.floor(width * window.devicePixelRatio) || canvas.height !== Math.floor(height * window.devicePixelRatio)) {
      this.renderer.setSize(width, height, false);
    }
    // Scenes paint their background through the clear colour and leave it set: reset it, so the
    // page around the cards stays transparent.
    this.renderer.setClearColor(0x000000, 0);
    this.renderer.setScissorTest(false);
    this.renderer.clear();
    this.renderer.setScissorTest(true);
    for (const card of this.cards.values()) {
      const rect = card.view.getBoundingClientRect();
      if (rect.bottom < 0 || rect.top > height || rect.right < 0 || rect.left > width || rect.width === 0) continue;
      const bottom = height - rect.bottom;
      this.renderer.setViewport(rect.left, bottom, rect.width, rect.height);
      this.renderer.setScissor(rect.left, bottom, rect.width, rect.height);
      card.camera.aspect = rect.width / rect.height;
      card.camera.updateProjectionMatrix();
      this.renderer.render(card.scene, card.camera);
    }
  }
}
