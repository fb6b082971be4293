enable f16; enable subgroups;
// Causal attention on subgroup matrices, backward part 1, delta and dq (attention-matrices-dq-body.wgsl), with the matrices emulated by
// plain arrays (subgroup-matrix-spelling-emulated.wgsl): for tests on devices without them.

//#include "subgroup-matrix-spelling-emulated.wgsl"
//#include "attention-matrices-dq-body.wgsl"
