enable f16; enable subgroups;
// Causal attention on subgroup matrices, backward part 2, dk and dv (attention-matrices-dkdv-body.wgsl), with the matrices emulated by
// plain arrays (subgroup-matrix-spelling-emulated.wgsl): for tests on devices without them.

//#include "subgroup-matrix-spelling-emulated.wgsl"
//#include "attention-matrices-dkdv-body.wgsl"
