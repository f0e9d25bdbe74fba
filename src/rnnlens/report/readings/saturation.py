"""Figure 3: how saturated the gates of each layer are."""

from __future__ import annotations

from rnnlens.report.readings.common import Context, Finding, Reading, Table


def read_saturation(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    for result in results:
        rows = result["summary"]
        model = result["info"].get("model", {}).get("run_dir", "").rsplit("/", 1)[-1]
        reading.tables.append(Table(
            f"gate saturation of {model}: mean fraction of steps below {result['low']} / above {result['high']}",
            ["layer", "gate", "units", "mean left", "mean right", "units mostly left", "units mostly right"],
            [[str(r["layer"]), r["gate"], str(r["units"]), f"{r['mean_left']:.3f}", f"{r['mean_right']:.3f}",
              str(r["mostly_left"]), str(r["mostly_right"])] for r in rows]))
        layers = sorted({r["layer"] for r in rows})
        if len(layers) < 2:
            reading.findings.append(Finding("the first layer is less saturated than deeper ones", "cannot say",
                                            f"{model} has one layer"))
            continue
        saturated = {layer: sum(r["mean_left"] + r["mean_right"] for r in rows if r["layer"] == layer)
                     / sum(1 for r in rows if r["layer"] == layer) for layer in layers}
        first, deeper = saturated[layers[0]], max(saturated[layer] for layer in layers[1:])
        reading.findings.append(Finding(
            f"{model}: the first layer's gates are more diffuse (less saturated) than deeper layers'",
            "holds" if first < deeper else "differs",
            "mean saturated fraction per layer: " + ", ".join(f"{k}: {v:.3f}" for k, v in saturated.items())))
        forget = [r for r in rows if r["gate"] == "forget_gate" and r["layer"] != layers[0]]
        if forget:
            # the paper's claim is about some units (near-perfect integrators), not most: any such unit bears it out
            count, units = sum(r["mostly_right"] for r in forget), sum(r["units"] for r in forget)
            mean_right = sum(r["mean_right"] * r["units"] for r in forget) / units
            reading.findings.append(Finding(
                f"{model}: some forget-gate units of layers 2+ are right-saturated on most steps (near-perfect "
                "integrators)", "holds" if count else "differs",
                f"{count} of {units} forget-gate units of layers 2+ ({count / units:.0%}) are above {result['high']} "
                f"on over half the steps; their mean fraction above it is {mean_right:.3f}"))
    return reading
