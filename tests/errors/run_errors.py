#!/usr/bin/env python3
"""Runs the bad-input catalogue (cases.py) against the real binary.

For each case, in a fresh directory holding the base inputs (fixtures.py) broken
by the case's setup, it runs `[prefix] mpiexec -n RANKS mgi-mpi ARGS` there and
checks:
  - the exit code;
  - stderr has exactly one line starting with "mgi-mpi:", and it is the
    documented message (placeholders aside);
  - the run took at most the case's limit (it failed before any real work); the fastest
    of TIME_ATTEMPTS runs counts, each in a fresh directory;
  - every file that existed before the run is byte-for-byte unchanged (the
    input, an existing output, an old journal), and the run created no file
    except those the case documents (`leaves`): no out/pred.h5, no .partial.

    run_errors.py --tool build/mgi-mpi                 # every case, 2 at a time
    run_errors.py --tool build/mgi-mpi --only disk_full
    run_errors.py --tool build/mgi-mpi --probe         # print what the tool does, check nothing
Exit: 0 all passed, 1 a case failed, 77 (--only) the case was skipped here.
"""
import argparse
import concurrent.futures
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cases as catalogue  # noqa: E402
import fixtures  # noqa: E402

SKIP = 77
TIME_ATTEMPTS = 3  # runs a case gets to meet its time limit
SLOW = "took %.2f s, limit %.1f s"
PLACEHOLDERS = {"{host}": r"[^\s\]]+", "{n}": r"[0-9]+", "{hex}": r"[0-9a-f]+", "{any}": r".*"}

# What tools/mpirun-env.sh sets: root in containers, more ranks than cores, shared memory only.
# odls_base_sigkill_timeout=0: after a rank exits non-zero, Open MPI's mpiexec waits this
# long (1 s, per signal it sends) before it exits itself; that is the launcher's teardown, not
# the tool, which has exited by then, and would add 1-2 s to every case.
MPI_ENV = {"OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
           "OMPI_MCA_pml": "ob1", "OMPI_MCA_btl": "self,vader", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "OMPI_MCA_odls_base_sigkill_timeout": "0"}
if os.geteuid() == 0:
    MPI_ENV.update({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"})


def message_regex(message):
    """The documented line as a regex: literal text, placeholders as patterns."""
    parts = re.split("(" + "|".join(re.escape(p) for p in PLACEHOLDERS) + ")", message)
    return "".join(PLACEHOLDERS.get(p, re.escape(p)) for p in parts)


def gpu_visible():
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "":
        return False
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def skip_reason(case, cuda_build):
    needs = case.get("needs")
    if needs == "non-root" and os.geteuid() == 0:
        return "running as root, which bypasses directory permissions"
    if needs in ("gpu", "no-gpu"):
        has_gpu = cuda_build and gpu_visible()
        if needs == "gpu" and not has_gpu:
            return "needs a CUDA build and a GPU (covered here by %s)" % case.get("unit", "a unit test")
        if needs == "no-gpu" and has_gpu:
            return "a GPU is visible"
    return None


def snapshot(root):
    files = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                files[os.path.relpath(p, root)] = hashlib.sha256(f.read()).hexdigest()
    return files


def build_env(case):
    env = dict(os.environ)
    for k, v in MPI_ENV.items():
        env.setdefault(k, v)
    for k, v in case.get("env", {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run_case(case, opts, base):
    """Returns (status, report): status 'pass', 'fail' or 'skip'."""
    reason = skip_reason(case, opts.cuda_build)
    if reason:
        return "skip", "SKIPPED error_%s: %s" % (case["id"], reason)
    # Wall time is noisy on a shared machine: the limit is met if any of TIME_ATTEMPTS runs
    # meets it. A run that fails any other check ends the case at once.
    for attempt in range(1, TIME_ATTEMPTS + 1):
        status, report, slow = attempt_case(case, opts, base)
        if status != "fail" or not slow or attempt == TIME_ATTEMPTS:
            break
        print("error_%s: attempt %d over the time limit (%s); again" % (case["id"], attempt, slow), flush=True)
    if attempt > 1:
        report += "\n(time limit: %s)" % ("met on attempt %d" % attempt if status == "pass" else
                                          "missed on all %d attempts" % attempt if slow else
                                          "attempt %d failed another check" % attempt)
    return status, report


def attempt_case(case, opts, base):
    """One run of the case in a fresh directory: (status, report, slow), where slow is
    the time-limit problem when that is the only one, else None."""
    work = tempfile.mkdtemp(prefix="mgie-", dir=opts.workdir)  # short: Open MPI puts sockets under it
    root = os.path.join(work, "case")
    problems, log = [], []
    try:
        fixtures.copy_base(base, root)
        env = build_env(case)
        # Open MPI keeps its session directory under TMPDIR; concurrent mpiexec runs sharing
        # one can collide ("mkdir /tmp/ompi.HOST.0: File exists"), so each case has its own.
        env["TMPDIR"] = work
        c = fixtures.Case(root, opts.tool, opts.mpiexec, env)
        if case.get("setup"):
            case["setup"](c)
        before = snapshot(root)
        cmd = ([opts.mpiexec, "-n", str(case.get("ranks", 1))] + list(case.get("tool_prefix", [])) +
               [opts.tool] + case["args"])
        limit = case.get("limit", 5.0)
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, errors="replace",
                               timeout=limit + 30)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = None, e.stdout or "", e.stderr or ""
            out, err = [s.decode(errors="replace") if isinstance(s, bytes) else s for s in (out, err)]
        elapsed = time.monotonic() - t0
        for fd in c.hold:
            os.close(fd)
        after = snapshot(root)
        lines = [ln for ln in err.splitlines() if ln.startswith("mgi-mpi:")]
        log.append("$ (cd %s && %s)" % (root, " ".join(cmd)))
        log.append("exit %s in %.2f s; mgi-mpi lines on stderr:" % (rc, elapsed))
        log += ["  " + ln for ln in lines] or ["  (none)"]

        if opts.probe:
            created = sorted(set(after) - set(before))
            changed = sorted(k for k in before if k in after and after[k] != before[k])
            log.append("created: %s; changed: %s; removed: %s" % (
                created or "-", changed or "-", sorted(set(before) - set(after)) or "-"))
            if not lines:
                log.append("stderr tail:\n" + err[-1500:])
            return "probe", "\n".join(["== %s" % case["id"]] + log), None

        if rc is None:
            problems.append("hung: killed after %.0f s" % (limit + 30))
        elif rc != case["exit"]:
            problems.append("exit code %s, expected %s" % (rc, case["exit"]))
        if elapsed > limit:
            problems.append(SLOW % (elapsed, limit))
        if len(lines) != 1:
            problems.append("%d lines start with 'mgi-mpi:' on stderr, expected exactly 1" % len(lines))
        regex = message_regex(case["message"])
        if not any(re.fullmatch(regex, ln) for ln in lines):
            problems.append("no stderr line is the documented message:\n    %s" % case["message"])
        for name in sorted(before):
            if name not in after:
                problems.append("the run removed %s" % name)
            elif after[name] != before[name]:
                problems.append("the run changed %s (it must be left byte-for-byte as it was)" % name)
        allowed = set(case.get("leaves", {}))
        expect_output = case.get("output", False)
        if expect_output:
            allowed.add("out/pred.h5")
            if "out/pred.h5" not in after:
                problems.append("out/pred.h5 is missing (this case must complete)")
        for name in sorted(set(after) - set(before) - allowed):
            problems.append("the failed run left %s" % name)
        if case.get("then") and not problems:
            problems += case["then"](c)
        if case.get("bug") and not problems:
            problems.append("passes now, but the case still carries a `bug` note (an open problem in "
                            "docs/ERRORS.md): remove the note from cases.py and regenerate the doc")
        elif case.get("bug"):
            log.append("known tool problem (cases.py `bug`): " + case["bug"])
        if problems and rc is not None and not lines:
            log.append("stderr tail:\n" + err[-1500:])
    except Exception as e:  # a broken setup is a failed case, not a crash of the runner
        problems.append("setup or runner error: %r" % e)
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    head = "%s error_%s" % ("FAIL" if problems else "PASS", case["id"])
    slow = problems[0] if len(problems) == 1 and problems[0].startswith(SLOW.split("%")[0]) else None
    return ("fail" if problems else "pass"), "\n".join([head] + ["  - " + p for p in problems] + log), slow


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=False, help="the mgi-mpi binary")
    ap.add_argument("--mpiexec", default=shutil.which("mpiexec") or "mpiexec")
    ap.add_argument("--only", help="run this case id only")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once (all-cases mode)")
    ap.add_argument("--cuda-build", default="OFF", help="ON when mgi-mpi was built with CUDA")
    ap.add_argument("--workdir", default=None, help="where case directories are made (default: TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the case directories")
    ap.add_argument("--probe", action="store_true", help="print what the tool does; check nothing")
    ap.add_argument("--list", action="store_true", help="print the case ids")
    ap.add_argument("--make-base", metavar="DIR", help="write the base inputs to DIR and exit (ctest fixture)")
    ap.add_argument("--base", metavar="DIR", help="base inputs made by --make-base (default: made here)")
    opts = ap.parse_args()
    opts.cuda_build = opts.cuda_build.upper() in ("ON", "1", "TRUE", "YES")

    ids = [c["id"] for c in catalogue.CASES]
    if opts.list:
        print("\n".join(ids))
        return 0
    if opts.make_base:
        shutil.rmtree(opts.make_base, ignore_errors=True)
        fixtures.make_base(opts.make_base)
        print("base inputs in %s" % opts.make_base)
        return 0
    if not opts.tool:
        ap.error("--tool is required")
    opts.tool = os.path.abspath(opts.tool)
    if opts.only:
        todo = [c for c in catalogue.CASES if c["id"] == opts.only]
        if not todo:
            print("no case '%s' (see --list)" % opts.only)
            return 1
    else:
        todo = catalogue.CASES
    if opts.workdir:
        os.makedirs(opts.workdir, exist_ok=True)

    base_dir = None if opts.base else tempfile.mkdtemp(prefix="mgi-err-base-", dir=opts.workdir)
    try:
        base = opts.base or os.path.join(base_dir, "base")
        if not opts.base:
            fixtures.make_base(base)
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs if not opts.only else 1)) as ex:
            results = list(ex.map(lambda c: run_case(c, opts, base), todo))
    finally:
        if base_dir:
            shutil.rmtree(base_dir, ignore_errors=True)
    counts = {}
    for status, report in results:
        counts[status] = counts.get(status, 0) + 1
        print(report, flush=True)
    if opts.probe:
        return 0
    print("errors catalogue: %d passed, %d failed, %d skipped, of %d cases in %.1f s" % (
        counts.get("pass", 0), counts.get("fail", 0), counts.get("skip", 0), len(todo), time.monotonic() - t0))
    if counts.get("fail"):
        return 1
    if opts.only and counts.get("skip"):
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())
