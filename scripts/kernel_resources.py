"""Compile the book's fused Triton kernels for a GPU that is not here, and report what each uses per thread.

No GPU is needed: Triton compiles for a named target (default sm_90, the H100/H200 of the device tool) with the
``ptxas`` and ``cuobjdump`` its wheel carries. For each kernel, at the tile sizes the book's modules pick for
their chapters' shapes, it prints registers, stack frame (bytes per thread: spilled registers live there) and,
from the machine code, the local-memory loads and stores (spill traffic) and the matrix instructions. A kernel
with a stack frame is the first suspect when it runs slower than expected; this is how the first fused Elman
kernel (IEEE float32 ``tl.dot``: 10 KB of stack, ~9,600 local loads/stores per step at H = 128) was found.

    python scripts/kernel_resources.py            # needs triton installed (pip install triton==3.6.0: the
                                                  # GPU machine's version); run it outside the interpreter
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

if os.environ.get("TRITON_INTERPRET") == "1":
    sys.exit("error: unset TRITON_INTERPRET: this compiles kernels, the interpreter does not")


class KernelCase(NamedTuple):
    """One kernel at one shape: its name, the JIT function, scalar (non-pointer) arguments, constexprs, warps,
    software-pipelining stages (Triton's default: 3)."""

    name: str
    fn: object
    scalars: tuple[str, ...]
    constexprs: dict
    num_warps: int
    num_stages: int = 3


def cases() -> list[KernelCase]:
    """Every fused kernel at the shapes of the chapters that use it, with the tiles its module picks."""
    from wavelib.models import elman_fused, selective_scan_fused, wave_rnn_columns, wave_rnn_fused, wave_rnn_wgrad
    from wavelib.models.triton_support import dot_tile
    out = []
    elman = elman_fused._triton_kernel()
    for hidden in (128, 64):  # Chapter 2's Table 1
        rows, padded, warps = elman_fused._tiles(hidden)
        for backward in (False, True):
            out.append(KernelCase(f"elman {'bwd' if backward else 'fwd'} H={hidden}", elman, ("B", "T"),
                                  dict(H=hidden, HP=padded, BB=rows, BACKWARD=backward), warps))
    forward, backward = wave_rnn_fused._triton_kernels()
    for label, c, n in (("copy", 6, 100), ("sMNIST", 16, 256)):  # Chapters 3 and 4
        C, N = dot_tile(c, n)
        warps = wave_rnn_fused.default_warps(c, n)
        # both shifts in "ieee", and the "gather" shift (the default) in "tf32x3" (the default precision)
        variants = [(shift, "ieee") for shift in wave_rnn_fused.SHIFTS] + \
            [("gather", precision) for precision in wave_rnn_fused.PRECISIONS[1:]]
        for shift, precision in variants:
            shapes = dict(C_REAL=c, N_REAL=n, C=C, N=N, GATHER=shift == "gather", PIXELS=False, PRECISION=precision)
            name = f"{label}{' gather' if shift == 'gather' else ''}{'' if precision == 'ieee' else ' ' + precision}"
            out.append(KernelCase(f"wRNN fwd {name}", forward, ("T",), {**shapes, "HAS_BIAS": True}, warps))
            out.append(KernelCase(f"wRNN bwd {name}", backward, ("T",), {**shapes, "GRAD_LAST": False}, warps))
        if label == "sMNIST":  # what the image trainer runs: pixels projected in the kernels, the last step's loss
            for precision in wave_rnn_fused.PRECISIONS:
                shapes = dict(C_REAL=c, N_REAL=n, C=C, N=N, GATHER=True, PIXELS=True, PRECISION=precision)
                name = f"sMNIST pixels{'' if precision == 'ieee' else ' ' + precision}"
                out.append(KernelCase(f"wRNN fwd {name}", forward, ("T",), {**shapes, "HAS_BIAS": True}, warps))
                out.append(KernelCase(f"wRNN bwd {name}", backward, ("T",), {**shapes, "GRAD_LAST": True}, warps))
    for label, c, n in (("copy", 6, 100), ("sMNIST", 16, 256)):
        C, N, BN, warps = wave_rnn_wgrad.tiles(c, n)
        out.append(KernelCase(f"wRNN wgrad {label}", wave_rnn_wgrad._triton_kernel(), ("T", "ROWS", "PER"),
                              dict(C_REAL=c, N_REAL=n, C=C, N=N, BN=BN), warps, wave_rnn_wgrad.STAGES))
    forward, backward = wave_rnn_columns.kernels()
    for label, c, n in (("copy", 6, 100), ("sMNIST", 16, 256)):
        C, N, warps = wave_rnn_columns.tiles(c, n)
        shapes = dict(C_REAL=c, N_REAL=n, C=C, N=N, WARPS=warps)
        out.append(KernelCase(f"wRNN fwd {label} columns", forward, ("T",), {**shapes, "HAS_BIAS": True}, warps))
        out.append(KernelCase(f"wRNN bwd {label} columns", backward, ("T",), shapes, warps))
    forward, backward = selective_scan_fused._triton_kernels()
    for n_state in (16,):  # Chapter 5's paper preset
        shapes = dict(N=n_state, NP=n_state, BD=selective_scan_fused.BLOCK_D)
        warps = selective_scan_fused.NUM_WARPS
        out.append(KernelCase(f"scan fwd N={n_state}", forward, ("D", "L"), shapes, warps))
        out.append(KernelCase(f"scan bwd N={n_state}", backward, ("D", "L"), shapes, warps))
    return out


def step_loop(sass: str) -> list[str]:
    """The opcodes of the longest loop in ``sass`` (a backward branch's span): a kernel's step loop, whose
    instructions run once per time step."""
    code = [(int(address, 16), opcode, target) for address, opcode, target in re.findall(
        r"^\s+/\*([0-9a-f]+)\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9]*)\S*\s*(?:(?:[^;]*?)0x([0-9a-f]+))?", sass, flags=re.M)]
    spans = [(int(target, 16), address) for address, opcode, target in code
             if opcode == "BRA" and target and int(target, 16) < address]
    start, end = max(spans, key=lambda span: span[1] - span[0], default=(0, -1))
    return [opcode for address, opcode, _ in code if start <= address <= end]


def resources(case: KernelCase, arch: int) -> dict[str, int]:
    """Compile ``case`` for sm_<arch>; registers and stack (bytes per thread) and counts of machine instructions:
    local loads/stores (LDL/STL), tensor-core products (HMMA, HGMMA), float fused multiply-adds (FFMA), and in
    the step loop (:func:`step_loop`) all instructions and CTA barriers (BAR)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    signature = {arg: ("constexpr" if arg in case.constexprs else "i32" if arg in case.scalars else "*fp32")
                 for arg in case.fn.arg_names}
    source = ASTSource
    if getattr(case.fn, "is_gluon", lambda: False)():
        from triton.experimental.gluon._runtime import GluonASTSource as source
    kernel = triton.compile(source(fn=case.fn, signature=signature, constexprs=case.constexprs),
                            target=GPUTarget("cuda", arch, 32), options={"num_warps": case.num_warps,
                                                                  "num_stages": case.num_stages})
    cuobjdump = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.TemporaryDirectory() as tmp:
        cubin = Path(tmp) / "kernel.cubin"
        cubin.write_bytes(kernel.asm["cubin"])
        usage = subprocess.run([cuobjdump, "--dump-resource-usage", cubin], capture_output=True, text=True,
                               check=True).stdout
        sass = subprocess.run([cuobjdump, "--dump-sass", cubin], capture_output=True, text=True, check=True).stdout
    found = {key: int(value) for key, value in re.findall(r"\b(REG|STACK):(\d+)", usage)}
    opcodes = re.findall(r"^\s+/\*[0-9a-f]+\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9]*)", sass, flags=re.M)
    counts = {op: opcodes.count(op) for op in ("LDL", "STL", "HMMA", "HGMMA", "FFMA")}
    loop = step_loop(sass)
    return {"registers": found["REG"], "stack_bytes": found["STACK"], **counts, "loop": len(loop),
            "loop_bar": loop.count("BAR")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", type=int, default=90, help="compute capability x 10 (default 90: H100/H200)")
    args = parser.parse_args(argv)
    try:
        import triton
    except ImportError:
        sys.exit("error: triton is not installed here (pip install triton==3.6.0, the GPU machine's version)")
    print(f"triton {triton.__version__}, target sm_{args.arch}; per thread: registers, stack bytes, and in the "
          "machine code: local loads/stores (spills), tensor-core and FMA instructions; per step (the step "
          "loop's instructions): all, and CTA barriers")
    header = f"{'kernel':26s} {'warps':>5s} {'regs':>5s} {'stack':>6s} {'LDL':>6s} {'STL':>6s} {'HMMA':>5s} " \
             f"{'HGMMA':>5s} {'FFMA':>6s} {'step':>5s} {'BAR':>4s}"
    print(header)
    spilled = []
    for case in cases():
        r = resources(case, args.arch)
        print(f"{case.name:26s} {case.num_warps:5d} {r['registers']:5d} {r['stack_bytes']:6d} {r['LDL']:6d} "
              f"{r['STL']:6d} {r['HMMA']:5d} {r['HGMMA']:5d} {r['FFMA']:6d} {r['loop']:5d} {r['loop_bar']:4d}",
              flush=True)
        if r["stack_bytes"]:
            spilled.append(case.name)
    print(f"spills: {', '.join(spilled)}" if spilled else "no kernel spills registers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
