diagnostic(off, chromium.subgroup_matrix_uniformity); enable f16; enable subgroups; enable chromium_experimental_subgroup_matrix;
// Causal attention on subgroup matrices, backward part 2, dk and dv (the kernel: attention-matrices-dkdv-body.wgsl), with Dawn's matrix
// builtins spelled with the majorness as a template argument (attention-matrices-dkdv.wgsl: as a bool argument).

//#include "subgroup-matrix-spelling-templated.wgsl"
//#include "attention-matrices-dkdv-body.wgsl"
