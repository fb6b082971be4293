// Preloaded by bunfig.toml before every test file. The default timeout is generous because Dawn
// runs on lavapipe (a CPU Vulkan driver) in CI, where a busy 2-core machine is 2–3× slower than an
// idle one; a test that needs longer says so itself.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(120_000);
