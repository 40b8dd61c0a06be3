"""pandas peer: the way these jobs are usually written.

python3 bench/peers/pandas_filter.py <in.csv> <out-base>
Reads the whole CSV, keeps amount > 500 with a boolean mask, writes
<out-base>.parquet when pyarrow is importable, else <out-base>.csv.
Prints one JSON line: {"pandas": VERSION, "writer": ..., "rows_out": N, "seconds": ...}.
"""

import json
import sys
import time

import pandas as pd


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: pandas_filter.py <in.csv> <out-base>", file=sys.stderr)
        return 2
    source, base = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    df = pd.read_csv(source)
    kept = df[df["amount"] > 500]
    try:
        import pyarrow  # noqa: F401

        kept.to_parquet(base + ".parquet", index=False)
        writer = "to_parquet (pyarrow)"
    except ImportError:
        kept.to_csv(base + ".csv", index=False)
        writer = "to_csv (no pyarrow)"
    seconds = time.perf_counter() - t0
    print(json.dumps({"pandas": pd.__version__, "writer": writer, "rows_out": len(kept),
                      "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
