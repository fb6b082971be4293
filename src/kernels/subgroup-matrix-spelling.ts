/**
 * Dawn has spelled the subgroup-matrix load/store builtins two ways (majorness as a bool argument,
 * later as a template argument); wgsl/subgroup-matrix-spelling*.wgsl give kernels the same names
 * in either, or emulated with plain arrays (tests on devices without subgroup matrices). A kernel
 * on subgroup matrices has one top file per spelling, `<base>.wgsl`, `<base>-templated.wgsl` and
 * `<base>-emulated.wgsl`, each the spelling's file and the kernel's body; the first kernel compiled
 * finds the spelling this Dawn accepts.
 */

/** The spellings Dawn may accept, in the order tried. */
const DAWN_SPELLINGS = ["bool argument", "template argument"] as const;
export type Spelling = (typeof DAWN_SPELLINGS)[number] | "emulated";

const SUFFIX: Record<Spelling, string> = { "bool argument": "", "template argument": "-templated", emulated: "-emulated" };

/** The top file of kernel `base` (e.g. "matmul-subgroup-matrix") in `spelling`. */
export function spellingFile(base: string, spelling: Spelling): string {
  return `${base}${SUFFIX[spelling]}.wgsl`;
}

/** The first of Dawn's spellings in which `compile` succeeds, or a problem line with the errors of each. */
export function findSpelling(kernel: string, compile: (spelling: Spelling) => void): { spelling: Spelling } | { problem: string } {
  const errors: string[] = [];
  for (const spelling of DAWN_SPELLINGS) {
    try {
      compile(spelling);
      return { spelling };
    } catch (e) {
      errors.push(`${spelling}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  return { problem: `the ${kernel} kernel on subgroup matrices compiles in neither spelling (${errors.join("; ")})` };
}
