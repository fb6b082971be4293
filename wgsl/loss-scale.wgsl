// The dynamic loss scale S of mixed-precision training (torch.amp.GradScaler.update), kept in the
// optimizer's step tensor at STEP_LOSS_SCALE with its growth tracker at STEP_CLEAN_STEPS; one
// thread, after the optimizer step. On a non-finite step (grad_norm_finalize's flag; the
// optimizer kernels skipped it) S ← S·BACKOFF and the tracker restarts; otherwise the tracker
// counts, and at GROWTH_INTERVAL clean steps S ← S·GROWTH (kept only if finite) and it restarts.
// (scale-by-loss-scale.wgsl seeds the backward pass with S.)
// Constants: GROWTH, BACKOFF (f32), GROWTH_INTERVAL, and the STEP_* indices of src/kernels/optim.ts.

@group(0) @binding(0) var<storage, read_write> step: array<f32>;

fn is_finite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(1)
fn update_loss_scale() {
  let scale = step[STEP_LOSS_SCALE];
  if (step[STEP_NON_FINITE] != 0.0) {
    step[STEP_LOSS_SCALE] = scale * BACKOFF;
    step[STEP_CLEAN_STEPS] = 0.0;
    return;
  }
  let clean = step[STEP_CLEAN_STEPS] + 1.0;
  if (clean >= f32(GROWTH_INTERVAL)) {
    let grown = scale * GROWTH;
    step[STEP_LOSS_SCALE] = select(scale, grown, is_finite(grown));
    step[STEP_CLEAN_STEPS] = 0.0;
  } else {
    step[STEP_CLEAN_STEPS] = clean;
  }
}
