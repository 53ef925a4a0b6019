"""The seed notebook's numpy renderer (cells In[4] and In[5]), copied verbatim.

Do not "improve" it: the tests compare zoomstack with exactly these numpy operations
(see /work/shared/FACTS.md section 1: on a CPU with FMA, numpy's complex square is fused).
"""

import numpy as np


# --- copied from the notebook, cell In[4] -----------------------------------
def mandelbrot_array(height, width, center, scale, max_iter, dtype=np.uint16):
    cx, cy = center
    aspect = width / height
    x = np.linspace(cx - (scale * aspect) / 2.0, cx + (scale * aspect) / 2.0, width, dtype=np.float64)
    y = np.linspace(cy - scale / 2.0, cy + scale / 2.0, height, dtype=np.float64)
    C = x[None, :] + 1j * y[:, None]
    Z = np.zeros_like(C)
    counts = np.zeros(C.shape, dtype=np.int32)
    mask = np.ones(C.shape, dtype=bool)
    for k in range(max_iter):
        Z[mask] = Z[mask] * Z[mask] + C[mask]
        escaped = (np.abs(Z) > 2.0) & mask
        counts[escaped] = k
        mask &= ~escaped
        if not mask.any():
            break
    counts[mask] = max_iter
    return counts.astype(dtype, copy=False)


# --- copied from the notebook, cell In[5] (without @delayed) ----------------
def render_level(i, height, width, center, scale0, zoom_per_level, max_iter, dtype=np.uint16):
    scale = scale0 / (zoom_per_level ** i)
    return mandelbrot_array(height, width, center, scale, max_iter, dtype)
