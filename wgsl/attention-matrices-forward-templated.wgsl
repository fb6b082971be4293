diagnostic(off, chromium.subgroup_matrix_uniformity); enable f16; enable subgroups; enable chromium_experimental_subgroup_matrix;
// Causal attention on subgroup matrices, the forward (the kernel: attention-matrices-forward-body.wgsl), with Dawn's matrix
// builtins spelled with the majorness as a template argument (attention-matrices-forward.wgsl: as a bool argument).

//#include "subgroup-matrix-spelling-templated.wgsl"
//#include "attention-matrices-forward-body.wgsl"
