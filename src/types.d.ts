// Text and file imports that Bun resolves (and embeds in `bun build --compile` binaries).
declare module "*.wgsl" {
  const text: string;
  export default text;
}
declare module "*.c" {
  const path: string;
  export default path;
}
declare module "*.wasm" {
  const path: string;
  export default path;
}
