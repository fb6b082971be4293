/**
 * Scalars of the network's definition that the kernels and the CPU reference share. A leaf: it
 * imports nothing, so a kernel may read it without depending on the model above it.
 */

/** RMSNorm's eps (rms_norm.py), the same in every norm of the network. */
export const RMSNORM_EPS = 1e-5;

/**
 * The loss compares logits[:, 8:-1] with tokens[:, 9:] (SPEC §3): position 8, the last start
 * token, predicts the first coordinate; earlier positions carry no loss.
 */
export const FIRST_LOSS_POSITION = 8;
