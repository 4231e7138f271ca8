"""Fit the Chebyshev series used by ``jaxact.activations`` for erfcx.

We approximate ``g(t) = (1 + 2 t) * erfcx(t)`` on ``0 <= t < inf`` as a Chebyshev series in
``y = (t - K) / (t + K)``, which maps ``[0, inf)`` onto ``[-1, 1)`` (the transformation of
Shepherd & Laframboise, Math. Comp. 36 (1981) 249-253). ``g`` is bounded and smooth in ``y``,
so a few dozen terms reach float64 precision. Run ``python tools/fit_erfcx.py`` to regenerate the
coefficients; the numbers it prints are pasted into ``jaxact/special.py``.
"""

import mpmath as mp

mp.mp.dps = 60
K = 2


def g_of_y(y):
    if y == 1:
        return 2 / mp.sqrt(mp.pi)
    t = K * (1 + y) / (1 - y)
    return (1 + 2 * t) * mp.exp(t * t) * mp.erfc(t)


def chebyshev_coefficients(n):
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]
    values = [g_of_y(y) for y in nodes]
    coeffs = []
    for j in range(n):
        s = mp.fsum(values[k] * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / n) for k in range(n))
        coeffs.append(2 * s / n)
    coeffs[0] /= 2
    return coeffs


if __name__ == "__main__":
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 48
    coeffs = chebyshev_coefficients(n)
    for c in coeffs:
        print(f"    {mp.nstr(c, 20, min_fixed=-100, max_fixed=100)},")
