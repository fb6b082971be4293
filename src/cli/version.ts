/** The package version, bundled into the binary with the rest of the code. */
import pkg from "../../package.json" with { type: "json" };

export const IFLAME_VERSION: string = pkg.version;
