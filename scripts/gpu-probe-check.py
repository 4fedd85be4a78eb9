#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 7, must-show 3, on a GPU machine: from a run document of GPU results, print the driver,
VBIOS, PCIe link, clocks and power the manifest recorded, and for every measured GPU result its
energy, clocks and throttle flag; check that every GPU result has energy > 0.
usage: gpu-probe-check.py run.json   (exit 1 when a check fails)"""
import json
import sys

doc = json.load(open(sys.argv[1]))
fails = 0


def val(f, default="-"):
    if isinstance(f, dict) and f.get("status") == "ok":
        return f["value"]
    if isinstance(f, dict) and "reason" in f:
        return f"{f['status']} ({f['reason']})"
    return default


def check(ok, what):
    global fails
    print(("PASS " if ok else "FAIL ") + what)
    fails += 0 if ok else 1


m = doc.get("manifest")
check(m is not None, "run.json embeds the manifest")
if m:
    nv = m["nvml"]
    print("NVML library:", val(nv["library"]), "| driver:", val(nv["driver_version"]),
          "| CUDA driver:", val(nv["cuda_driver_version"]))
    check(nv["driver_version"].get("status") == "ok", "driver version recorded")
    for d in val(nv["devices"], []) if isinstance(val(nv["devices"], []), list) else []:
        clk = d.get("clocks_mhz", {}).get("sm", {})
        link = d.get("pcie_link", {})
        print(f"GPU {d['index']}: {val(d.get('name'))} {val(d.get('pci_bus_id'))} "
              f"VBIOS {val(d.get('vbios'))} | PCIe gen {val(link.get('current_generation'))}"
              f"/{val(link.get('max_generation'))} x{val(link.get('current_width'))}"
              f"/{val(link.get('max_width'))} | SM clock {val(clk.get('current'))}/"
              f"{val(clk.get('max'))} MHz | power {val(d.get('power_w'))} W, limit "
              f"{val(d.get('power_limit_w', {}).get('current'))} W | "
              f"{val(d.get('temperature_c'))} C | energy counter "
              f"{val(d.get('energy_counter_j'))} J | throttle {val(d.get('throttle_reasons'))}")
        check(d.get("vbios", {}).get("status") == "ok", f"GPU {d['index']}: VBIOS recorded")
        check(link.get("max_generation", {}).get("status") == "ok",
              f"GPU {d['index']}: PCIe link recorded")
        check(clk.get("current", {}).get("status") == "ok", f"GPU {d['index']}: clocks recorded")
        check(d.get("power_w", {}).get("status") == "ok", f"GPU {d['index']}: power recorded")
    for a in m["accelerators"]:
        print(f"accelerator {a['pci_bus_id']} -> {a.get('devices')}: link "
              f"{val(a['pcie_link']['current'])} / max {val(a['pcie_link']['max'])}, NUMA "
              f"{val(a['numa_node'])}, nearest {val(a['nearest_cpus'])}")

gpu = [r for r in doc["results"] if r["backend"] in ("cuda", "hip") and r["metrics"]]
check(len(gpu) > 0, f"{len(gpu)} measured GPU results")
for r in gpu:
    s = r.get("extra", {}).get("sampler", {})
    e = val(s.get("energy_j"), None)
    name = f"{r['key']} {r['impl']} {json.dumps(r['params'], sort_keys=True)}"
    print(f"  {name}: window {s.get('window_s', 0):.3f} s, {s.get('samples')} samples "
          f"({s.get('rate_hz') or 0:.1f} Hz), energy {e} J, mean power "
          f"{val(s.get('mean_power_w'))} W, clock {val(s.get('clock_mhz'))} MHz, throttled "
          f"{val(s.get('throttled'))} [{s.get('throttled', {}).get('source', '')}], pinned "
          f"{r.get('extra', {}).get('host_affinity', {}).get('cpus', '-')}")
    check(isinstance(e, (int, float)) and e > 0, f"{name}: energy > 0")
print(f"{'all checks passed' if not fails else str(fails) + ' checks FAILED'}")
sys.exit(1 if fails else 0)
