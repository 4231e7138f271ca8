"""Recompute the constants hard-coded in ``jaxact/activations/`` with mpmath (40 digits).

Run ``python tools/constants.py``. The test suite re-derives each constant independently
(dense grids, quadrature), so a wrong number here fails the tests rather than hiding.
"""

import mpmath as mp

mp.mp.dps = 40

C = mp.sqrt(2 / mp.pi)


def sig(x):
    return 1 / (1 + mp.exp(-x))


FUNCTIONS = {
    "gelu": (lambda x: x * mp.ncdf(x), []),
    "gelu_tanh": (lambda x: x * sig(2 * C * (x + mp.mpf("0.044715") * x**3)), []),
    "silu": (lambda x: x * sig(x), []),
    "mish": (lambda x: x * mp.tanh(mp.log1p(mp.exp(x))), []),
    "elu": (lambda x: x if x > 0 else mp.expm1(x), [0]),
    "softplus": (lambda x: mp.log1p(mp.exp(x)), []),
    "log_sigmoid": (lambda x: -mp.log1p(mp.exp(-x)), []),
    "softsign": (lambda x: x / (1 + abs(x)), [0]),
    "hard_sigmoid": (lambda x: min(max(x + 3, 0), 6) / 6, [-3, 3]),
    "hard_tanh": (lambda x: min(max(x, -1), 1), [-1, 1]),
    "relu6": (lambda x: min(max(x, 0), 6), [0, 6]),
    "hard_silu": (lambda x: x * min(max(x + 3, 0), 6) / 6, [-3, 3]),
    "sparse_plus": (lambda x: 0 if x <= -1 else (x if x >= 1 else (x + 1) ** 2 / 4), [-1, 1]),
    "sparse_sigmoid": (lambda x: min(max(x + 1, 0), 2) / 2, [-1, 1]),
    "squareplus": (lambda x: (x + mp.sqrt(x * x + 4)) / 2, []),
}


def second_moment_gain(f, kinks):
    points = [-mp.inf, *sorted(set(kinks) | {-8, 0, 8}), mp.inf]
    m2 = mp.quad(lambda z: f(z) ** 2 * mp.npdf(z), points)
    return 1 / mp.sqrt(m2)


if __name__ == "__main__":
    a = 2 * C
    b = a * mp.mpf("0.044715")
    for label, v in (("2 sqrt(2/pi)", a), ("2 sqrt(2/pi) 0.044715", b)):
        hi = float(v)
        print(f"{label}: hi={hi!r} lo={float(v - hi)!r}")
    for name, (f, kinks) in FUNCTIONS.items():
        line = f"{name}: gain={mp.nstr(second_moment_gain(f, kinks), 20)}"
        if name in ("gelu", "gelu_tanh", "silu", "mish"):
            xm = mp.findroot(lambda x, f=f: mp.diff(f, x), -1)
            xs = mp.findroot(lambda x, f=f: mp.diff(f, x, 2), 1.5)
            line += f" min={mp.nstr(f(xm), 20)} max_slope={mp.nstr(mp.diff(f, xs), 20)}"
        print(line)
