/**
 * The token ids (SPEC §1): 0..128 quantized coordinates, then pad, start and end; 9 tokens a face.
 * The one definition: the tokenizer, the loss, the sampler and the CPU reference all read it here
 * (asm/tokenizer.ts, AssemblyScript, keeps its own copy of the coordinate levels and start id).
 * No imports, so the kernels and the CPU reference can read it without loading the WASM module.
 */
export const TOKENS = { levels: 129, pad: 129, start: 130, end: 131, vocab: 132, perFace: 9 } as const;
