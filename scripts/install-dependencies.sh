#!/usr/bin/env bash
# Installs everything the course needs from Debian 12 (bookworm) packages.
#
#   ./scripts/install-dependencies.sh                 build, test and docs dependencies
#   ./scripts/install-dependencies.sh --with-pytorch  also Debian's PyTorch, to regenerate
#                                                     the reference fixtures in tests/fixtures
#
# Idempotent: it installs only what is missing, and does nothing when all is there.
# Uses sudo when not run as root. Without apt-get it stops and lists what to install.
set -euo pipefail

packages=(
  # Toolchain
  cmake g++ make
  # ccache: the project's build folders share compiled files (top-level CMakeLists.txt)
  ccache
  # The library: xtensor (with xtl), xsimd, OpenBLAS (lesson 5's first version calls its cblas)
  xtl-dev xtensor-dev libxsimd-dev libopenblas-dev
  # The `mha` command: CLI11 for its arguments, nlohmann/json for `mha bench`'s output
  libcli11-dev nlohmann-json3-dev
  # Tests and benchmarks
  googletest libgtest-dev libbenchmark-dev
  # Fuzzing the .npy reader (tests/fuzz): clang and its libFuzzer and sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # Documentation: Doxygen, graphviz for diagrams, MathJax 2.7 served offline, the site's style,
  # python3 for the Markdown math filter
  doxygen graphviz libjs-mathjax fonts-mathjax doxygen-awesome-css python3
  # The site's test (ctest -L docs): Debian's Chromium, run headless by npm's playwright-core
  chromium
)
# ...and Node.js with npm for playwright-core: Debian's nodejs and npm, unless a node (18 or
# newer) and an npm are already on the PATH, such as NodeSource's nodejs, which bundles npm
# and conflicts with Debian's npm package.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ! command -v npm >/dev/null 2>&1 || [ "$node_major" -lt 18 ]; then
  packages+=(nodejs npm)
fi

for argument in "$@"; do
  case "$argument" in
    --with-pytorch) packages+=(python3-torch python3-numpy) ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install-dependencies.sh: unknown option '$argument' (try --help)" >&2; exit 2 ;;
  esac
done

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-dependencies.sh: apt-get was not found; this script supports Debian 12 (bookworm) only." >&2
  echo "Install these (Debian package names; versions: xtensor 0.24.3, xsimd 8.1.0, xtl 0.7, CLI11 2.1, nlohmann/json 3.11, CMake >= 3.25):" >&2
  printf '  %s\n' "${packages[@]}" >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-dependencies.sh: all ${#packages[@]} packages are installed."
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-dependencies.sh: need root to install: ${missing[*]}" >&2
  echo "Run this script as root, or install sudo." >&2
  exit 1
fi

echo "install-dependencies.sh: installing ${missing[*]}"
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
