#!/usr/bin/env bash
# Make (or complete) the Python venv for the fractalshades 1.2.1 timings.
# Idempotent: an existing venv with the pinned versions is left as it is.
#   bash benches/fractalshades/setup.sh            # venv at /work/fsvenv
#   FSVENV=/some/dir bash benches/fractalshades/setup.sh
# Needs python3.11 (python3 -m venv), a C compiler, and the GMP/MPFR/MPC
# headers (installed with apt-get when missing and running as root).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${FSVENV:-/work/fsvenv}"
py="${PYTHON:-python3}"

# 1. GMP / MPFR / MPC headers: gmpy2 and fractalshades' Cython extension
#    (fractalshades.mpmath_utils.FP_loop) are compiled against them.
missing=()
for p in libgmp-dev libmpfr-dev libmpc-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "setup.sh: missing ${missing[*]}; install them as root" >&2
        exit 1
    fi
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi

# 2. The venv.
if [[ ! -x "$venv/bin/python" ]]; then
    "$py" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

# 3. Pinned build tools, then gmpy2 from source so that it and
#    fractalshades' extension use the same (system) GMP/MPFR/MPC libraries
#    (the gmpy2 wheel bundles its own copies), then fractalshades built
#    without build isolation against these pinned numpy / Cython / gmpy2
#    (its pyproject would otherwise build against the newest numpy 2.x).
"${pip[@]}" install -q "pip==26.3"
"${pip[@]}" install -q "setuptools==65.5.0" "wheel==0.48.0" \
    "Cython==3.3.1" "numpy==2.2.0"
"${pip[@]}" install -q --no-binary gmpy2 "gmpy2==2.3.2"
"${pip[@]}" install -q --no-build-isolation --no-binary gmpy2 \
    -r "$here/requirements.txt"

"$venv/bin/python" - <<'PY'
import fractalshades, numba, numpy, gmpy2
import fractalshades.models
import fractalshades.mpmath_utils.FP_loop
print("fractalshades", fractalshades.__version__, "numba", numba.__version__,
      "numpy", numpy.__version__, "gmpy2", gmpy2.version())
PY
