diagnostic(off, chromium.subgroup_matrix_uniformity); enable f16; enable subgroups; enable chromium_experimental_subgroup_matrix;
// Causal attention on subgroup matrices, backward part 1, delta and dq (the kernel: attention-matrices-dq-body.wgsl), with Dawn's matrix
// builtins spelled with the majorness as a bool argument (-templated: as a template argument).

//#include "subgroup-matrix-spelling.wgsl"
//#include "attention-matrices-dq-body.wgsl"
