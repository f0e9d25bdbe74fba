"""Beyond the paper: how alike the layers (or models, or the snapshots of one training) represent the text.

Linear CKA (``analyses/cka.py``) comes without an interval, so this reading
makes no finding of it: it shows, for each label, the other label most like
it, or, across snapshots, each one's CKA with the next and the last snapshot
of the same key (does a layer settle, or jump?), and says so.
"""

from __future__ import annotations

from rnnlens.analyses.cka import key_of
from rnnlens.report.readings.common import SHOWN_ROWS, Context, Reading, Table, num
from rnnlens.report.readings.dynamics import evenly


def read_cka(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    for result in results:
        labels, matrix = result["labels"], result["matrix"]
        rows = f"{result['text']['positions']:,} rows of {result['text']['source']}; no interval: not findings"
        runs = {source["run_dir"] for source in result["sources"].values()}
        if len(result["sources"]) > 1 and len(runs) == 1:  # the snapshots of one training
            table = []
            for i, label in enumerate(labels):
                same = [j for j, other in enumerate(labels) if key_of(other) == key_of(label)]
                later = [j for j in same if j > i]
                table.append([label, num(matrix[i][later[0]]) if later else "-", num(matrix[i][same[-1]])])
            reading.tables.append(Table(f"linear CKA of each snapshot with the next and the last of the same key, "
                                        f"over {rows}", ["label", "with next", "with last"],
                                        evenly(table, SHOWN_ROWS)))
            continue
        nearest = [max((j for j in range(len(labels)) if j != i and matrix[i][j] is not None),
                       key=lambda j: matrix[i][j], default=None) for i in range(len(labels))]
        reading.tables.append(Table(
            f"linear CKA: each representation and the one most like it, over {rows}", ["label", "most like", "CKA"],
            [[label, labels[j] if j is not None else "-", num(matrix[i][j]) if j is not None else "-"]
             for i, (label, j) in enumerate(zip(labels, nearest))]))
    return reading
