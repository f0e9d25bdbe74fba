"""Beyond the paper: a sparse autoencoder's latents against the best single cell, feature by feature.

The SAE's metrics and each feature's best latent and best unit
(``analyses/sae.py``) come without an interval, so this reading makes no
finding of them: it shows the tables and says so. ``loss_recovered`` may be
null (the spliced state diverged, or the model has no hook points): the
table gives its note instead.
"""

from __future__ import annotations

from rnnlens.report.readings.common import Context, Reading, Table, num, pct


def read_sae(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    for result in results:
        model = result["info"]["model"].get("run_dir", "").rsplit("/", 1)[-1]
        recovered = result["loss_recovered"]
        reading.tables.append(Table(
            f"{model}: an SAE on {result['key']} ({result['training']['described']}), fitted on "
            f"{result['info']['train']['source']}, scored on {result['info']['test']['source']}",
            ["key", "latents", "L0", "variance explained", "loss recovered", "dead latents"],
            [[result["key"], f"{result['latents']:,}", num(result["l0"], 1), num(result["variance_explained"]),
              num(recovered) if recovered is not None else result.get("loss_recovered_note") or "null",
              pct(result["dead_fraction"])]]))
        reading.tables.append(Table(
            f"{model}: the latent that best matches each feature against the best single unit of {result['key']} "
            "(AUC for an on/off feature, |r| for a numeric one). No interval: point estimates, not findings",
            ["feature", "metric", "best latent", "its score", "best unit", "its score"],
            [[f["feature"], f["metric"], str(f["latent"]), num(f["score"]), str(f["best_unit"]["unit"]),
              num(f["best_unit"]["score"])] for f in result["features"]]))
    return reading
