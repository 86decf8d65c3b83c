"""The bad-input catalogue: one table, run by run_errors.py (one ctest per case,
error_<id>) and rendered into docs/ERRORS.md by gen_errors_md.py.

Each case is a dict:
  id       ctest name suffix (error_<id>) and anchor in docs/ERRORS.md
  section  heading it is listed under in the doc
  title    what went wrong, in a few words
  did      what the user did (a sentence)
  setup    f(c) that breaks the case directory (see fixtures.Case); None: the base as is
  args     mgi-mpi's arguments; run as `mpiexec -n RANKS mgi-mpi ARGS` in the case directory
  ranks    MPI ranks (1..4), default 1
  exit     expected exit code
  message  the whole expected stderr line starting with "mgi-mpi:"; placeholders:
           {host} host name, {n} a number, {hex} hex digits, {any} any text
  fix      what to do about it
  optional:
  limit    seconds the run may take (default 5: it must fail before any real work); met if
           any of run_errors.TIME_ATTEMPTS runs is that fast (each must pass every other check)
  env      extra environment for the run ({"NAME": None} removes NAME)
  tool_prefix  command put between mpiexec and mgi-mpi (e.g. prlimit, to limit the tool only)
  leaves   {file: why} for files (relative to the case directory) the failed run may leave, by design
  output   True: the run succeeds and out/pred.h5 must exist (warnings, not errors)
  needs    "gpu": runs only with a CUDA build and a visible GPU, "no-gpu": only without
           one, "non-root": skipped as root; otherwise the case reports SKIPPED (ctest: skipped)
  unit     a unit test that proves the case where it cannot run here (shown in the doc)
  then     f(c) -> list of problems, run after a passing check (e.g. the resume after a full disk)
  bug      the tool misbehaves today (what it does, where): `message` is then the line it
           should print, the case fails until the tool is fixed, and the doc lists it as an
           open problem; a case that passes while it still has `bug` fails too
"""

SECTIONS = ["Command line", "Config file", "Config values", "Input data", "Ragged input", "Output",
            "Journal (resume)", "Model", "Devices", "Warnings"]


def E(text, rank=0):
    """The one error line the tool prints for a failure reported by `rank`."""
    return "mgi-mpi: error [rank %d on {host}]: %s" % (rank, text)


def cfg(*sets, extra=()):
    """config.yaml with --set overrides ("key=value" strings) and extra arguments."""
    args = ["config.yaml"]
    for s in sets:
        args += ["--set", s]
    return args + list(extra)


# ---------------------------------------------------------------- setup helpers

def _yaml(text):
    return lambda c: c.config(text)


def _edit(old, new):
    return lambda c: c.edit_config(old, new)


def _input(**datasets):
    """in.h5 replaced by one holding `datasets` (callables get the case)."""
    def setup(c):
        c.h5("in.h5", **{k: (v(c) if callable(v) else v) for k, v in datasets.items()})
    return setup


def _np(expr):
    """A numpy value built at setup time (numpy is imported lazily)."""
    def make(c):
        import numpy as np  # noqa: F401
        return eval(expr, {"np": np, "c": c})
    return make


def _ragged(offsets_expr=None, values_width=None):
    """The ragged base (ragged.h5, ragged.onnx, config); offsets_expr: the offsets
    to store instead of valid ones; values_width: token width other than the model's."""
    def setup(c):
        import numpy as np
        offsets = None if offsets_expr is None else eval(offsets_expr, {"np": np})
        c.ragged(offsets, values_width=values_width)
    return setup


def _model(build):
    """model.onnx replaced by build(c) -> ModelProto."""
    return lambda c: c.save_onnx("model.onnx", build(c))


def _big_initializer(dims):
    """The base MLP plus an initializer whose dims claim `dims` (and hold 8 bytes)."""
    def build(c):
        from onnx import TensorProto
        import fixtures
        m = fixtures.mlp_model()
        t = m.graph.initializer.add()
        t.name = "huge"
        t.data_type = TensorProto.FLOAT
        t.dims.extend(dims)
        t.raw_data = bytes(8)
        return m
    return _model(build)


def _raw_short(c):
    m = c.load_onnx()
    for t in m.graph.initializer:
        if t.name == "w1":
            t.raw_data = t.raw_data[: len(t.raw_data) // 2]
    return m


def _conv_model(c):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    import fixtures
    F = TensorProto.FLOAT
    return fixtures.onnx_model(
        [helper.make_node("Reshape", ["x", "shape"], ["x3"], name="to_ncw"),
         helper.make_node("NonMaxSuppression", ["x3", "w"], ["y3"], name="nms0"),
         helper.make_node("Flatten", ["y3"], ["probs"], name="flat")],
        [("x", F, ["batch", 8])], [("probs", F, ["batch", 6])],
        [numpy_helper.from_array(np.array([0, 1, 8], np.int64), "shape"),
         numpy_helper.from_array(np.ones((1, 1, 3), np.float32), "w")])


def _custom_domain_model(c):
    from onnx import TensorProto, helper
    import fixtures
    F = TensorProto.FLOAT
    node = helper.make_node("FastGelu", ["x"], ["probs"], name="act0", domain="com.example")
    m = fixtures.onnx_model([node], [("x", F, ["batch", 8])], [("probs", F, ["batch", 8])], [])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    return m


def _string_input_model(c):
    from onnx import TensorProto, helper
    import fixtures
    node = helper.make_node("Identity", ["x"], ["probs"], name="id0")
    return fixtures.onnx_model([node], [("x", TensorProto.STRING, ["batch", 8])],
                               [("probs", TensorProto.STRING, ["batch", 8])], [])


def _transposed_output_model(c):
    from onnx import TensorProto, helper
    import fixtures
    F = TensorProto.FLOAT
    node = helper.make_node("Transpose", ["x"], ["probs"], name="swap", perm=[1, 0])
    return fixtures.onnx_model([node], [("x", F, ["batch", 8])], [("probs", F, [8, "batch"])], [])


def _two_input_model(c):
    from onnx import TensorProto, helper
    import fixtures
    F = TensorProto.FLOAT
    node = helper.make_node("Add", ["x", "bias"], ["probs"], name="add0")
    return fixtures.onnx_model([node], [("x", F, ["batch", 8]), ("bias", F, ["batch", 8])],
                               [("probs", F, ["batch", 8])], [])


def _two_inputs_rows(bias_rows):
    """model.onnx takes x and bias (both [batch, 8]); in.h5 holds /x and a /bias of `bias_rows` rows."""
    def setup(c):
        c.save_onnx("model.onnx", _two_input_model(c))
        c.h5("in.h5", x=c.x(), bias=c.x(rows=bias_rows))
    return setup


def _external_data(location, length=None):
    """The base MLP with its w1 in an external data file at `location` (relative to
    the model's folder); w1.bin beside the model holds it (plus 8 spare bytes)."""
    def build(c):
        import numpy as np
        from onnx import TensorProto, numpy_helper
        m = c.load_onnx()
        for t in m.graph.initializer:
            if t.name == "w1":
                data = numpy_helper.to_array(t).astype(np.float32).tobytes()
                c.write("w1.bin", data + bytes(8))
                t.ClearField("raw_data")
                t.ClearField("float_data")
                t.data_location = TensorProto.EXTERNAL
                for k, v in (("location", location), ("offset", "0"),
                             ("length", str(length if length is not None else len(data)))):
                    e = t.external_data.add()
                    e.key, e.value = k, v
        return m
    return _model(build)


def _wrong_weight_model(c):
    import fixtures
    return fixtures.mlp_model(wrong_w1=True)


def _journal_from_other_model(c):
    """A run of the base model that fails mid-way leaves its journal; then the
    model changes (retrained) and the same command is run again."""
    rc = c.run_tool(cfg("runtime.gather_window_bytes=1KiB"), env={"MGI_DEBUG_FAIL_RANK": "0"})
    assert rc == 5, f"setup run exited {rc}, expected the injected failure (5)"
    import fixtures
    m = fixtures.mlp_model()
    m.producer_name = "retrained"
    c.save_onnx("model.onnx", m)


def _damage_symbol_table(c):
    """Overwrites the signature of the root group's symbol table node ("SNOD")."""
    with open(c.path("in.h5"), "rb") as f:
        data = f.read()
    assert data.count(b"SNOD") == 1, "expected one symbol table node in the base input"
    c.write("in.h5", data.replace(b"SNOD", b"\0\0\0\0"))


def _huge_offsets(c):
    """Valid values, and an offsets dataset of 2^40 entries (chunked, never written: a tiny file)."""
    import numpy as np
    c.ragged()
    c.h5("ragged.h5", values=c.x(30), offsets=(None, dict(shape=(1 << 40,), dtype=np.int64, chunks=(4096,))))


def _resume_completes(c):
    """After the failure: the same command, with room, resumes and completes."""
    import h5py
    rc = c.run_tool(cfg("runtime.gather_window_bytes=16KiB"))
    problems = [] if rc == 0 else ["the run after the failure exited %d, expected 0 (resume)" % rc]
    if not rc:
        with h5py.File(c.path("out/pred.h5"), "r") as f:
            if f.attrs.get("complete") != 1 or f["probs"].shape != (20000, 3):
                problems.append("the resumed output is not complete")
    return problems


def _ragged_config_without_offsets(c):
    c.ragged()
    c.edit_config("  offsets: /offsets\n", "")
    c.edit_config("  mask: mask\n", "")


def _hold_output_lock(c):
    """Another job holds the output's lock (flock on out/pred.h5.lock) during the run."""
    import fcntl
    import os
    fd = os.open(c.path("out/pred.h5.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    c.hold.append(fd)  # closed by the runner after the run


def _unwritable_dir(c):
    import os
    os.makedirs(c.path("ro"))
    os.chmod(c.path("ro"), 0o555)


def _many_rows(c):
    """A 20000-row input: enough results that the journal outgrows the file size limit."""
    c.h5("in.h5", x=c.x(rows=20000))


# ---------------------------------------------------------------- the table

CASES = [
    # ------------------------------------------------------------ command line
    dict(id="cli_no_config", section="Command line", title="No config file given",
         did="Ran `mpirun -np 2 mgi-mpi` without the config argument.",
         setup=None, args=[], ranks=2, exit=2,
         # Ranks other than 0 exit at once, without a word; Open MPI's default grace before
         # SIGKILL (the runner sets 0) lets rank 0 finish its line.
         env={"OMPI_MCA_odls_base_sigkill_timeout": "1"},
         message="mgi-mpi: usage error: config (a YAML file), or the inspect subcommand is required "
                 "(see mgi-mpi --help)",
         fix="Pass the YAML config: `mgi-mpi config.yaml`."),
    dict(id="cli_unknown_option", section="Command line", title="Misspelt option",
         did="Typed `--dryrun` instead of `--dry-run`.",
         setup=None, args=["config.yaml", "--dryrun"], exit=2,
         message="mgi-mpi: usage error: The following argument was not expected: --dryrun (see mgi-mpi --help)",
         fix="Check `mgi-mpi --help` for the option names."),
    dict(id="set_without_equals", section="Command line", title="`--set` without `=`",
         did="Wrote `--set runtime.device cpu` (a space instead of `=`).",
         setup=None, args=["config.yaml", "--set", "runtime.device", "cpu"], exit=2,
         message=E("--set 'runtime.device': expected key=value"),
         fix="Write `--set key=value`, one key per `--set`."),
    dict(id="set_bad_yaml_value", section="Command line", title="`--set` value is not valid YAML",
         did="Forgot the closing brace in `--set 'output.dataset={probs: /p'`.",
         setup=None, args=cfg("output.dataset={probs: /p"), exit=2,
         message=E("--set 'output.dataset={probs: /p': malformed YAML value: end of map flow not found"),
         fix="The value is YAML: close brackets and quote values with special characters."),
    dict(id="set_into_scalar", section="Command line", title="`--set` below a key that holds a value",
         did="Wrote `--set mode.name=dynamic` (`mode` is a plain value, not a section).",
         setup=None, args=cfg("mode.name=dynamic"), exit=2,
         message=E("--set 'mode.name=dynamic': cannot set 'name' inside 'mode', which is not a mapping"),
         fix="Set the key itself: `--set mode=dynamic`."),
    dict(id="set_unknown_key", section="Command line", title="`--set` names an unknown key",
         did="Wrote `--set runtime.devcie=cpu` on a 2-rank run.",
         setup=None, args=cfg("runtime.devcie=cpu"), ranks=2, exit=2,
         message=E("--set runtime.devcie: unknown key 'runtime.devcie' (valid keys under runtime: device, "
                   "batch_size, gpu_ids, allow_gpu_sharing, threads, gather_window_bytes, precision, cuda_graphs, pipeline_stages, memory_limit); "
                   "did you mean 'device'?"),
         fix="Use the suggested key; the valid keys are listed in the message."),

    # ------------------------------------------------------------ config file
    dict(id="config_missing", section="Config file", title="Config file does not exist",
         did="Gave a config path that does not exist (a typo, or a path relative to another directory).",
         setup=None, args=["confg.yaml"], ranks=2, exit=2,
         message=E("config file 'confg.yaml': cannot read (No such file or directory)"),
         fix="Check the path; relative paths are taken from the current directory of the job."),
    dict(id="config_is_directory", section="Config file", title="Config path is a directory",
         did="Passed a directory (`configs/`) instead of a file.",
         setup=lambda c: c.write("configs/readme.txt", "x"), args=["configs"], exit=2,
         message=E("config file 'configs': cannot read (Is a directory)"),
         fix="Name the YAML file inside the directory."),
    dict(id="config_empty", section="Config file", title="Config file is empty",
         did="The config file was created but never filled (or truncated by a full disk).",
         setup=_yaml(""), args=["config.yaml"], exit=2,
         message=E("config.yaml: empty config (expected a mapping with input, output, model, runtime, "
                   "mode, dynamic, checkpoint)"),
         fix="Write the `input`, `output` and `model` sections (see README, Config reference)."),
    dict(id="config_is_hdf5", section="Config file", title="Data file given as the config",
         did="Swapped the arguments: `mgi-mpi in.h5`.",
         setup=None, args=["in.h5"], exit=2,
         message=E("in.h5:3:3: malformed YAML: unknown escape character: "),
         fix="The only positional argument is the YAML config."),
    dict(id="yaml_malformed", section="Config file", title="Malformed YAML",
         did="Left a flow mapping unclosed: `dataset: {probs: /probs, logits: /logits`.",
         setup=_edit("{probs: /probs, logits: /logits}", "{probs: /probs, logits: /logits"),
         args=["config.yaml"], exit=2,
         message=E("config.yaml:7:6: malformed YAML: end of map flow not found"),
         fix="Fix the YAML at the line and column given."),
    dict(id="yaml_tab_indent", section="Config file", title="Tab used for indentation",
         did="Indented a key with a tab character.",
         setup=_edit("  batch_size: 4", "\tbatch_size: 4"), args=["config.yaml"], exit=2,
         message=E("config.yaml:11:1: malformed YAML: illegal tab when looking for indentation"),
         fix="YAML indentation must be spaces."),
    dict(id="yaml_two_documents", section="Config file", title="Two YAML documents in one file",
         did="Concatenated two configs with a `---` line between them.",
         setup=lambda c: c.config(open(c.path("config.yaml")).read() + "---\nmode: dynamic\n"),
         args=["config.yaml"], exit=2,
         message=E("config.yaml:13: more than one YAML document ('---'); a config is a single mapping"),
         fix="Keep one config per file; use `--set` for variants."),
    dict(id="config_top_is_list", section="Config file", title="Top level is a list",
         did="Wrote every section as a list item (`- input: ...`).",
         setup=_yaml("- input: {file: in.h5, dataset: /x}\n- model: {file: model.onnx}\n"),
         args=["config.yaml"], exit=2,
         message=E("config.yaml:1: top level must be a mapping with input, output, model, runtime, mode, "
                   "dynamic, checkpoint, got a list"),
         fix="The top level is a mapping: `input:`, `output:`, `model:` ... at column 0."),
    dict(id="unknown_key", section="Config file", title="Unknown key (typo)",
         did="Wrote `batchsize:` instead of `batch_size:` under `runtime`.",
         setup=_edit("batch_size: 4", "batchsize: 4"), args=["config.yaml"], ranks=2, exit=2,
         message=E("config.yaml:11: unknown key 'runtime.batchsize' (valid keys under runtime: device, "
                   "batch_size, gpu_ids, allow_gpu_sharing, threads, gather_window_bytes, precision, cuda_graphs, pipeline_stages, memory_limit); "
                   "did you mean 'batch_size'?"),
         fix="Use the suggested key."),
    dict(id="key_in_wrong_section", section="Config file", title="Key in the wrong section",
         did="Put `batch_size: 64` at the top level instead of under `runtime`.",
         setup=lambda c: c.config(open(c.path("config.yaml")).read() + "batch_size: 64\n"),
         args=["config.yaml"], exit=2,
         message=E("config.yaml:13: unknown key 'batch_size' (valid top-level keys: input, output, model, "
                   "runtime, mode, dynamic, checkpoint); did you mean 'runtime.batch_size'?"),
         fix="Move the key under the section named in the suggestion."),
    dict(id="duplicate_key", section="Config file", title="Key given twice",
         did="Left an old `device: cuda` line below a new `device: cpu` in `runtime`.",
         setup=_edit("  device: cpu\n", "  device: cpu\n  device: cuda\n"), args=["config.yaml"], exit=2,
         message=E("config.yaml:11: runtime.device: duplicate key (first at line 10)"),
         fix="Delete one of the two lines."),
    dict(id="missing_section", section="Config file", title="Required section missing",
         did="Forgot the `model` section.",
         setup=_edit("model:\n  file: model.onnx\n", ""), args=["config.yaml"], exit=2,
         message=E("config.yaml: missing required section 'model' (with keys file)"),
         fix="Add the section with its keys."),
    dict(id="missing_key", section="Config file", title="Required key missing",
         did="Left out `input.dataset`.",
         setup=_edit("  dataset: /x\n", ""), args=["config.yaml"], exit=2,
         message=E("config.yaml:1: missing required key 'input.dataset'"),
         fix="Add the key; `input.dataset` is the HDF5 path of the rows, e.g. `/x`."),
    dict(id="section_is_scalar", section="Config file", title="Section given as a plain value",
         did="Wrote `model: model.onnx` instead of `model: {file: model.onnx}`.",
         setup=_edit("model:\n  file: model.onnx\n", "model: model.onnx\n"), args=["config.yaml"], exit=2,
         message=E("config.yaml:7: model: expected a mapping with keys file, got 'model.onnx'"),
         fix="Sections are mappings: `model:` then `  file: model.onnx`."),

    # ------------------------------------------------------------ config values
    dict(id="wrong_type", section="Config values", title="Wrong type",
         did="Wrote `batch_size: 64 rows`.",
         setup=_edit("batch_size: 4", "batch_size: 64 rows"), args=["config.yaml"], exit=2,
         message=E("config.yaml:11: runtime.batch_size: expected a positive integer or 'auto', got '64 "
                   "rows'"),
         fix="Give a plain integer or `auto`."),
    dict(id="batch_size_zero", section="Config values", title="`batch_size` 0",
         did="Ran with `--set runtime.batch_size=0`.",
         setup=None, args=cfg("runtime.batch_size=0"), exit=2,
         message=E("--set runtime.batch_size: expected a positive integer or 'auto', got '0'"),
         fix="Use a positive batch size, or `auto`."),
    dict(id="batch_size_too_large", section="Config values", title="`batch_size` out of range",
         did="Set `batch_size: 10000000000` (more than 2^31 rows).",
         setup=_edit("batch_size: 4", "batch_size: 10000000000"), args=["config.yaml"], exit=2,
         message=E("config.yaml:11: runtime.batch_size: must be at most 2147483648, got '10000000000'"),
         fix="Use at most 2^31 rows per batch."),
    dict(id="compression_level_out_of_range", section="Config values", title="Value out of range",
         did="Set `output.compression_level: 12`.",
         setup=None, args=cfg("output.compression=gzip", "output.compression_level=12"), exit=2,
         message=E("--set output.compression_level: must be at most 9, got '12'"),
         fix="gzip levels are 1 to 9."),
    dict(id="device_invalid", section="Config values", title="Unknown device name",
         did="Set `runtime.device: gpu`.",
         setup=_edit("device: cpu", "device: gpu"), args=["config.yaml"], exit=2,
         message=E("config.yaml:10: runtime.device: expected one of auto, cuda, cpu, got 'gpu'"),
         fix="Use `auto`, `cuda` or `cpu`."),
    dict(id="mode_invalid", section="Config values", title="Unknown mode",
         did="Set `mode: Dynamic` (capital D).",
         setup=_edit("mode: static", "mode: Dynamic"), args=["config.yaml"], exit=2,
         message=E("config.yaml:12: mode: expected one of static, dynamic, got 'Dynamic'"),
         fix="Use `static` or `dynamic` (lower case)."),
    dict(id="writer_invalid", section="Config values", title="Unknown output writer",
         did="Ran with `--set output.writer=mpiio`.",
         setup=None, args=cfg("output.writer=mpiio"), ranks=2, exit=2,
         message=E("--set output.writer: expected one of gather, parallel, got 'mpiio'"),
         fix="Use `gather` (the default: rank 0 writes every row) or `parallel` (every rank writes its "
             "own rows with MPI-IO)."),
    dict(id="dynamic_chunk_rows_negative", section="Config values", title="`dynamic.chunk_rows` negative",
         did="Ran dynamic mode with `--set dynamic.chunk_rows=-100`.",
         setup=None, args=cfg("mode=dynamic", "dynamic.chunk_rows=-100"), ranks=2, exit=2,
         message=E("--set dynamic.chunk_rows: expected a non-negative integer (0 = factoring schedule), "
                   "got '-100'"),
         fix="Use 0 (factoring schedule) or a positive task size in rows."),
    dict(id="gpu_ids_negative", section="Config values", title="`gpu_ids` with a negative id",
         did="Set `runtime.gpu_ids: [0, -1]`.",
         setup=None, args=cfg("runtime.gpu_ids=[0, -1]"), exit=2,
         message=E("--set runtime.gpu_ids: expected a list of non-negative integers such as [0, 1], got "
                   "'-1' at position 1"),
         fix="List device numbers as the node sees them: 0, 1, ..."),
    dict(id="gpu_ids_duplicate", section="Config values", title="`gpu_ids` lists a device twice",
         did="Set `runtime.gpu_ids: [0, 1, 1]`.",
         setup=None, args=cfg("runtime.gpu_ids=[0, 1, 1]"), exit=2,
         message=E("--set runtime.gpu_ids: device id 1 is listed twice"),
         fix="List each device once; to put several ranks on one GPU use `runtime.allow_gpu_sharing: true`."),
    dict(id="gpu_ids_not_list", section="Config values", title="`gpu_ids` not a list",
         did="Wrote `gpu_ids: 0,1` instead of `gpu_ids: [0, 1]`.",
         setup=_edit("  batch_size: 4\n", "  batch_size: 4\n  gpu_ids: 0,1\n"), args=["config.yaml"], exit=2,
         message=E("config.yaml:12: runtime.gpu_ids: expected a list of non-negative integers such as [0, "
                   "1], got '0,1'"),
         fix="Write a YAML list: `[0, 1]`."),
    dict(id="gather_window_too_small", section="Config values", title="Size below the minimum",
         did="Set `runtime.gather_window_bytes: 100`.",
         setup=None, args=cfg("runtime.gather_window_bytes=100"), exit=2,
         message=E("--set runtime.gather_window_bytes: must be at least 1 KiB (1024 bytes), got '100'"),
         fix="Give at least 1 KiB; sizes take units: `256MiB`, `1GB`."),
    dict(id="size_bad_unit", section="Config values", title="Size with an unknown unit",
         did="Set `runtime.gather_window_bytes: 2 gigs`.",
         setup=None, args=cfg("runtime.gather_window_bytes=2 gigs"), exit=2,
         message=E("--set runtime.gather_window_bytes: expected a size in bytes such as 268435456, "
                   "'256MiB' or '1GB', got '2 gigs'"),
         fix="Use bytes or KiB/MiB/GiB/KB/MB/GB."),
    dict(id="pipeline_stages_zero", section="Config values", title="`pipeline_stages` 0",
         did="Ran with `--set runtime.pipeline_stages=0`.",
         setup=None, args=cfg("runtime.pipeline_stages=0"), exit=2,
         message=E("--set runtime.pipeline_stages: expected a positive integer or 'auto', got '0'"),
         fix="Use 1 (the whole model on every rank), a number of stages, or `auto`."),
    dict(id="pipeline_stages_word", section="Config values", title="`pipeline_stages` not a number",
         did="Set `runtime.pipeline_stages: two`.",
         setup=None, args=cfg("runtime.pipeline_stages=two"), exit=2,
         message=E("--set runtime.pipeline_stages: expected a positive integer or 'auto', got 'two'"),
         fix="Give an integer such as 2, or `auto`."),
    dict(id="memory_limit_bad_unit", section="Config values", title="`memory_limit` with an unknown unit",
         did="Set `runtime.memory_limit: 4 gigs`.",
         setup=None, args=cfg("runtime.memory_limit=4 gigs"), exit=2,
         message=E("--set runtime.memory_limit: expected a size in bytes such as 268435456, "
                   "'256MiB' or '1GB', got '4 gigs'"),
         fix="Use bytes or KiB/MiB/GiB/KB/MB/GB, e.g. `4GiB`."),
    dict(id="memory_limit_too_small", section="Config values", title="`memory_limit` below the minimum",
         did="Set `runtime.memory_limit: 512`.",
         setup=None, args=cfg("runtime.memory_limit=512"), exit=2,
         message=E("--set runtime.memory_limit: must be at least 1 KiB (1024 bytes), got '512'"),
         fix="Give a size of at least 1 KiB; sizes take units: `512MiB`, `4GiB`."),
    dict(id="pipeline_stages_np_not_multiple", section="Config values",
         title="`-np` not a multiple of `pipeline_stages`",
         did="Ran `mpirun -np 3` with `runtime.pipeline_stages: 2` (groups of 2 ranks hold one replica each).",
         setup=None, args=cfg("runtime.pipeline_stages=2"), ranks=3, exit=2,
         message=E("runtime.pipeline_stages: 2 stages per replica need a rank count that is a multiple of 2, "
                   "but the job has 3 rank(s); run with -np 2 or 4, or set runtime.pipeline_stages to a divisor of 3"),
         fix="Launch a multiple of K ranks, or choose K dividing the rank count."),
    dict(id="model_exceeds_memory_limit", section="Config values",
         title="Model does not fit `memory_limit` in one stage",
         did="Set `runtime.memory_limit: 1KiB`, less than the model's weights and activations, with one stage "
             "(the message names the `pipeline_stages` that would fit, or that none does).",
         setup=None, args=cfg("runtime.memory_limit=1KiB"), exit=5,
         message=E("model needs {any}, rank has 921 B (90% of runtime.memory_limit 1.0 KiB); {any}"),
         fix="Split the model: run with the `runtime.pipeline_stages` the message names (and a multiple of "
             "it as -np), or `auto`; or raise the limit."),
    dict(id="grace_seconds_zero", section="Config values", title="`checkpoint.grace_seconds` 0",
         did="Set `checkpoint.grace_seconds: 0`.",
         setup=None, args=cfg("checkpoint.grace_seconds=0"), exit=2,
         message=E("--set checkpoint.grace_seconds: expected a number of seconds from 1 to 86400, got '0'"),
         fix="Give the seconds ranks get to stop after SIGTERM, 1 to 86400."),
    dict(id="dataset_path_relative", section="Config values", title="Dataset path without a leading `/`",
         did="Set `input.dataset: x`.",
         setup=_edit("dataset: /x", "dataset: x"), args=["config.yaml"], exit=2,
         message=E("config.yaml:3: input.dataset: expected an HDF5 dataset path starting with '/', got 'x'"),
         fix="HDF5 paths are absolute: `/x`, `/group/x`."),
    dict(id="env_unset", section="Config values", title="Unset `${VAR}`",
         did="Used `file: ${SCRATCH_DIR}/in.h5` in a shell where `SCRATCH_DIR` is not set.",
         setup=_edit("file: in.h5", "file: ${SCRATCH_DIR}/in.h5"), args=["config.yaml"], ranks=2, exit=2,
         env={"SCRATCH_DIR": None},
         message=E("config.yaml:2: input.file: environment variable SCRATCH_DIR is not set"),
         fix="Export the variable (in the sbatch script), or give a default: `${SCRATCH_DIR:-.}`."),
    dict(id="env_bare_dollar", section="Config values", title="Shell-style `$VAR`",
         did="Wrote `file: $HOME/in.h5` (no braces).",
         setup=_edit("file: in.h5", "file: $HOME/in.h5"), args=["config.yaml"], exit=2,
         message=E("config.yaml:2: input.file: '$' must start ${VAR} or be doubled ('$$' for a literal "
                   "'$') in '$HOME/in.h5'"),
         fix="Write `${HOME}`; a literal `$` is `$$`."),
    dict(id="empty_value", section="Config values", title="Empty value",
         did="Left `input.file:` with no value.",
         setup=_edit("file: in.h5", "file:"), args=["config.yaml"], exit=2,
         message=E("config.yaml:2: input.file: expected a non-empty string, got an empty value"),
         fix="Give the value."),
    dict(id="output_two_outputs_one_dataset", section="Config values",
         title="Two model outputs mapped to one dataset",
         did="Mapped both outputs to `/y`: `output.dataset: {probs: /y, logits: /y}`.",
         setup=None, args=cfg("output.dataset={probs: /y, logits: /y}"), exit=2,
         message=E("--set output.dataset: output.dataset.logits: outputs 'probs' and 'logits' both write "
                   "dataset '/y'"),
         fix="Give each output its own dataset."),
    dict(id="output_single_dataset_multi_output", section="Config values",
         title="One dataset for a model with several outputs",
         did="Set `output.dataset: /y` for a model with outputs `probs` and `logits`.",
         setup=None, args=cfg("output.dataset=/y"), exit=2,
         message=E("output.dataset: model 'model.onnx' has 2 outputs (probs, logits); map each one you "
                   "want to a dataset, e.g. output.dataset: {probs: /probs}"),
         fix="Map each output you want to a dataset, as the message shows."),
    dict(id="output_name_not_in_model", section="Config values", title="Mapped output not in the model",
         did="Mapped `prob` (the model's output is `probs`).",
         setup=None, args=cfg("output.dataset={prob: /p}"), ranks=2, exit=2,
         message=E("output.dataset.prob: model 'model.onnx' has no output named 'prob' (outputs: probs, "
                   "logits)"),
         fix="Use the output names listed in the message (`mgi-mpi --dry-run` prints them too)."),
    dict(id="mask_without_offsets", section="Config values", title="`input.mask` without ragged input",
         did="Set `input.mask: mask` on a fixed-shape dataset.",
         setup=None, args=cfg("input.mask=mask"), exit=2,
         message=E("input.mask: only used with ragged input (input.offsets or a variable-length dataset)"),
         fix="Drop `input.mask`, or add `input.offsets` for ragged rows."),

    # ------------------------------------------------------------ input data
    dict(id="input_missing", section="Input data", title="Input file does not exist",
         did="Pointed `input.file` at a path that does not exist.",
         setup=None, args=cfg("input.file=data/in.h5"), ranks=2, exit=3,
         message=E("input file 'data/in.h5': cannot open (missing or unreadable)"),
         fix="Check the path (relative to the job's current directory)."),
    dict(id="input_not_hdf5", section="Input data", title="Input is not HDF5",
         did="Pointed `input.file` at a CSV file.",
         setup=lambda c: c.write("in.csv", "a,b\n1,2\n"), args=cfg("input.file=in.csv"), exit=3,
         message=E("input file 'in.csv': not an HDF5 file"),
         fix="Convert the data to HDF5 (h5py: `f.create_dataset('x', data=array)`)."),
    dict(id="input_truncated_hdf5", section="Input data", title="Truncated HDF5 file",
         did="Used an input whose copy was cut short (quota, interrupted transfer).",
         setup=lambda c: c.truncate("in.h5", 0.5), args=["config.yaml"], ranks=2, exit=3,
         message=E("input file 'in.h5': cannot open as HDF5: truncated file: eof = {n}, "
                   "sblock->base_addr = 0, stored_eof = {n}"),
         fix="Copy the file again; `h5dump -H` shows whether a file is readable."),
    dict(id="input_corrupt_hdf5", section="Input data", title="Corrupt HDF5 metadata",
         did="Used an input whose group metadata was overwritten (a bad disk block, a faulty copy).",
         setup=_damage_symbol_table, args=["config.yaml"], exit=3,
         message=E("input dataset '/x' in 'in.h5': cannot look it up: bad symbol table node signature"),
         fix="Restore the file from its source."),
    dict(id="dataset_missing", section="Input data", title="Input dataset not found",
         did="Set `input.dataset: /X` (the file holds `/x`).",
         setup=None, args=cfg("input.dataset=/X"), ranks=3, exit=3,
         message=E("input dataset '/X' not found in 'in.h5'"),
         fix="List the file's datasets with `h5ls -r in.h5`."),
    dict(id="dataset_missing_group", section="Input data", title="Input dataset's group not found",
         did="Set `input.dataset: /data/x`; the file has no group `/data`.",
         setup=None, args=cfg("input.dataset=/data/x"), exit=3,
         message=E("input dataset '/data/x' not found in 'in.h5'"),
         fix="List the file's datasets with `h5ls -r in.h5`."),
    dict(id="dataset_is_group", section="Input data", title="Input dataset is a group",
         did="Named the group `/images` instead of the dataset `/images/x` inside it.",
         setup=_input(images="group"), args=cfg("input.dataset=/images"), exit=3,
         message=E("input dataset '/images' in 'in.h5' is a group, not a dataset"),
         fix="Name the dataset inside the group."),
    dict(id="dataset_scalar", section="Input data", title="Input dataset is a scalar",
         did="Named a scalar dataset (e.g. a stored count).",
         setup=_input(x=_np("np.float32(3)")), args=["config.yaml"], exit=3,
         message=E("input dataset '/x' in 'in.h5' is a scalar; expected [rows, ...]"),
         fix="The input is `[rows, ...]`; name the array of rows."),
    dict(id="dataset_string", section="Input data", title="Input dataset holds strings",
         did="Named a dataset of strings (file names) instead of numbers.",
         setup=_input(x=_np("np.array([b'a.png', b'b.png'])")), args=["config.yaml"], exit=3,
         message=E("input dataset '/x' in 'in.h5' is not numeric (expected an integer or float dtype)"),
         fix="Store the numeric features; any integer or float dtype is converted to float32."),
    dict(id="dataset_rank_mismatch", section="Input data", title="Dataset rank does not match the model",
         did="Gave images `[200, 2, 4]` to a model that takes `[batch, 8]`.",
         setup=_input(x=_np("c.x().reshape(200, 2, 4)")), args=["config.yaml"], exit=3,
         message=E("input dataset '/x' in 'in.h5' has shape [200, 2, 4] (float32) but model 'model.onnx' "
                   "input 'x' expects [batch, 8]"),
         fix="Reshape the data to the model's input, or export the model with a Flatten/Reshape first."),
    # Must fail fast, before any real work, so the input is big: 32,000,000 rows (chunks never
    # written: a few KiB on disk, zeros if read), which the base model takes about 50 s to
    # compute here (the same rows at width 8, 4 ranks, measured), while the failing dry run takes
    # 0.3 s idle and up to about 1.3 s on a loaded machine. The limit of 3 s, met by the fastest
    # of run_errors.TIME_ATTEMPTS runs, tolerates the load and still fails if the rows are read
    # or computed before the check (10 rows and 1 s failed on a busy machine).
    dict(id="width_mismatch_dry_run", section="Input data", title="Row width does not match the model",
         did="Checked a job with `mpirun -np 4 mgi-mpi --dry-run`: 32,000,000 rows of 63 features, the "
             "model takes 8.",
         setup=_input(x=(None, dict(shape=(32000000, 63), dtype="float32", chunks=(65536, 63)))),
         args=["--dry-run", "config.yaml"], ranks=4, exit=3, limit=3.0,
         message=E("input dataset '/x' in 'in.h5' has shape [32000000, 63] (float32) but model 'model.onnx' "
                   "input 'x' expects [batch, 8]"),
         fix="Use the dataset the model was trained on, or the model for this dataset."),
    dict(id="empty_trailing_dim", section="Input data", title="Rows with zero features",
         did="Gave a dataset of shape `[200, 0]`.",
         setup=_input(x=_np("np.zeros((200, 0), np.float32)")), args=["config.yaml"], exit=3,
         message=E("input dataset '/x' in 'in.h5' has shape [200, 0] (float32) but model 'model.onnx' "
                   "input 'x' expects [batch, 8]"),
         fix="The feature dimension must match the model (here 8)."),
    dict(id="cost_wrong_shape", section="Input data", title="`input.cost` of the wrong length",
         did="Gave a cost dataset with 199 entries for 200 rows.",
         setup=_input(x=lambda c: c.x(), cost=_np("np.ones(199, np.float32)")),
         args=cfg("input.cost=/cost"), ranks=2, exit=3,
         message=E("input.cost dataset '/cost' in 'in.h5' has shape [199]; expected [200] (one cost per "
                   "row)"),
         fix="One cost per row: shape `[rows]`."),
    dict(id="cost_negative", section="Input data", title="`input.cost` negative",
         did="Stored a cost of -1 at row 7.",
         setup=_input(x=lambda c: c.x(), cost=_np("np.where(np.arange(200) == 7, -1, 1).astype(np.float32)")),
         args=cfg("input.cost=/cost"), exit=3,
         message=E("input.cost dataset '/cost' row 7: cost must be a finite number >= 0"),
         fix="Costs must be finite and >= 0."),
    dict(id="cost_nan", section="Input data", title="`input.cost` NaN",
         did="Stored NaN as the cost of row 0.",
         setup=_input(x=lambda c: c.x(), cost=_np("np.where(np.arange(200) == 0, np.nan, 1).astype(np.float32)")),
         args=cfg("input.cost=/cost", "mode=dynamic"), exit=3,
         message=E("input.cost dataset '/cost' row 0: cost must be a finite number >= 0"),
         fix="Costs must be finite and >= 0."),
    dict(id="cost_missing", section="Input data", title="`input.cost` dataset not found",
         did="Set `input.cost: /costs` (the file holds `/cost`).",
         setup=None, args=cfg("input.cost=/costs"), exit=3,
         message=E("input.cost dataset '/costs' not found in 'in.h5'"),
         fix="List the file's datasets with `h5ls -r in.h5`."),

    dict(id="input_datasets_row_counts", section="Input data", title="Input datasets of different lengths",
         did="Fed a two-input model from two datasets, one of them a row short.",
         setup=_two_inputs_rows(199), args=cfg("input.dataset={x: /x, bias: /bias}", "output.dataset=/probs",
                                               extra=["--dry-run"]), ranks=2, exit=3,
         message=E("input datasets in 'in.h5' have different row counts (x <- /x 200 rows, bias <- /bias 199 rows); "
                   "every input dataset needs one row per input row"),
         fix="Every dataset of `input.dataset` needs the same number of rows (row i of each is input row i)."),
    dict(id="input_dataset_unknown_input", section="Input data", title="`input.dataset` names no model input",
         did="Mapped a dataset to `input_ids`; the model's input is `x`.",
         setup=None, args=cfg("input.dataset={input_ids: /x}"), exit=2,
         message=E("input.dataset.input_ids: model 'model.onnx' has no input named 'input_ids' (inputs: x)"),
         fix="Use the model's input names (`mgi-mpi inspect model.onnx` lists them)."),
    dict(id="input_not_fed", section="Input data", title="A model input without a source",
         did="Mapped only `x` of a model that takes `x` and `bias`.",
         setup=_two_inputs_rows(200), args=cfg("input.dataset={x: /x}", "output.dataset=/probs"), exit=2,
         message=E("input.dataset: model 'model.onnx' input 'bias' is fed by nothing; map it to a dataset "
                   "(input.dataset: {bias: /bias, ...}) or fill it with a constant (input.fill: {bias: 0})"),
         fix="Give every model input a dataset (`input.dataset` map), a constant (`input.fill`) or, for ragged "
             "rows, the mask (`input.mask`)."),
    dict(id="input_fill_unknown", section="Input data", title="`input.fill` names no model input",
         did="Set `input.fill: {token_type_ids: 0}` for a model that has no such input.",
         setup=None, args=cfg("input.fill={token_type_ids: 0}"), exit=2,
         message=E("input.fill.token_type_ids: model 'model.onnx' has no input named 'token_type_ids' (inputs: x)"),
         fix="Fill only inputs the model has."),
    dict(id="input_fed_twice", section="Config values", title="One model input fed twice",
         did="Mapped `x` to a dataset and also filled it with `input.fill`.",
         setup=None, args=cfg("input.dataset={x: /x}", "input.fill={x: 0}"), exit=2,
         message=E("--set input.fill: model input 'x' is fed by both input.dataset.x and input.fill.x; "
                   "each input takes one source"),
         fix="Each model input takes one source: a dataset, `input.mask` or `input.fill`."),

    # ------------------------------------------------------------ ragged input
    dict(id="offsets_not_monotonic", section="Ragged input", title="Offsets not monotonic",
         did="Stored offsets that go back: `[0, 2, 5, 5, 9, 12, 11, ...]`.",
         setup=_ragged("np.array([0, 2, 5, 5, 9, 12, 11, 20, 21, 25, 30], np.int64)"),
         args=["config.yaml"], ranks=2, exit=3,
         message=E("input.offsets dataset '/offsets' in 'ragged.h5': offsets[6] = 11 is less than "
                   "offsets[5] = 12; offsets must be non-decreasing"),
         fix="`offsets[i]` is where row i starts: 0, then non-decreasing."),
    dict(id="offsets_first_not_zero", section="Ragged input", title="First offset is not 0",
         did="Stored offsets starting at 1 (1-based indexing).",
         setup=_ragged("np.array([1, 2, 5, 5, 9, 12, 13, 20, 21, 25, 30], np.int64)"),
         args=["config.yaml"], exit=3,
         message=E("input.offsets dataset '/offsets' in 'ragged.h5': offsets[0] = 1; the first offset must "
                   "be 0"),
         fix="Offsets are 0-based: the first is 0."),
    dict(id="offsets_negative", section="Ragged input", title="Negative offset",
         did="Stored a -3 in the offsets (an int overflow upstream).",
         setup=_ragged("np.array([0, 2, 5, 5, -3, 12, 13, 20, 21, 25, 30], np.int64)"),
         args=["config.yaml"], exit=3,
         message=E("input.offsets dataset '/offsets' in 'ragged.h5': offsets[4] = -3 is negative"),
         fix="Offsets are row positions in the values dataset: >= 0."),
    dict(id="offsets_out_of_range", section="Ragged input", title="Offsets past the end of the values",
         did="Offsets end at 40 but the values dataset has 30 rows.",
         setup=_ragged("np.array([0, 2, 5, 5, 9, 12, 13, 20, 21, 25, 40], np.int64)"),
         args=["config.yaml"], exit=3,
         message=E("input.offsets dataset '/offsets' in 'ragged.h5': offsets[10] = 40 but the values "
                   "dataset has 30 rows; the last offset must equal it"),
         fix="The last offset equals the number of value rows."),
    dict(id="offsets_short_of_values", section="Ragged input", title="Last offset short of the values",
         did="Offsets end at 29 but the values dataset has 30 rows (the last row was dropped).",
         setup=_ragged("np.array([0, 2, 5, 5, 9, 12, 13, 20, 21, 25, 29], np.int64)"),
         args=["config.yaml"], exit=3,
         message=E("input.offsets dataset '/offsets' in 'ragged.h5': offsets[10] = 29 but the values "
                   "dataset has 30 rows; the last offset must equal it"),
         fix="The last offset equals the number of value rows."),
    dict(id="offsets_2d", section="Ragged input", title="Offsets of the wrong shape",
         did="Stored the offsets as `[2, 5]` instead of `[N+1]`.",
         setup=_ragged("np.array([[0, 2, 5, 5, 9], [12, 13, 20, 21, 25]], np.int64)"),
         args=["config.yaml"], exit=3,
         message=E("input.offsets dataset '/offsets' in 'ragged.h5': has shape [2, 5]; expected 1-D [N+1]"),
         fix="Offsets are 1-D: `[N+1]`."),
    dict(id="offsets_empty", section="Ragged input", title="Offsets of the wrong length (empty)",
         did="Stored an empty offsets dataset.",
         setup=_ragged("np.zeros(0, np.int64)"), args=["config.yaml"], exit=3,
         message=E("input.offsets dataset '/offsets' in 'ragged.h5': has no entries; expected [N+1] "
                   "offsets starting with 0"),
         fix="N rows need N+1 offsets, starting with 0."),
    dict(id="offsets_absurd_length", section="Ragged input", title="Offsets dataset of absurd length",
         did="Used a file whose offsets dataset claims 2^40 entries (a chunked dataset never written).",
         setup=_huge_offsets, args=["config.yaml"], exit=3, tool_prefix=["prlimit", "--as=17179869184"],
         message=E("input.offsets dataset '/offsets' in 'ragged.h5': 1099511627776 offsets do not fit in "
                   "memory"),
         fix="Offsets are held in memory (8 bytes per row); check how the file was written."),
    dict(id="offsets_float", section="Ragged input", title="Offsets stored as floats",
         did="Stored the offsets as float64 (numpy's default for a cumulative sum of floats).",
         setup=_ragged("np.array([0, 2, 5, 5, 9, 12, 13, 20, 21, 25, 30], np.float64)"),
         args=["config.yaml"], exit=3,
         message=E("input.offsets dataset '/offsets' in 'ragged.h5': has a non-integer dtype; offsets must "
                   "be integers (int64)"),
         fix="Store them as integers: `offsets.astype(np.int64)`."),
    dict(id="offsets_missing", section="Ragged input", title="Offsets dataset not found",
         did="Set `input.offsets: /offset` (the file holds `/offsets`).",
         setup=_ragged(), args=cfg("input.offsets=/offset"), exit=3,
         message=E("input.offsets dataset '/offset' in 'ragged.h5': not found"),
         fix="List the file's datasets with `h5ls -r ragged.h5`."),
    dict(id="ragged_values_width", section="Ragged input", title="Ragged values of the wrong width",
         did="Gave 16-wide tokens to a model that takes 8-wide tokens.",
         setup=_ragged(values_width=16),
         args=["config.yaml"], exit=3,
         message=E("ragged input: values dataset '/values' in 'ragged.h5' has shape [30, 16] (float32, "
                   "rows split by '/offsets') but model 'ragged.onnx' input 'x' expects [batch, ?, 8]; "
                   "expected [batch, seq, ...] with a dynamic seq dim matching the values' row shape"),
         fix="The values' row shape must match the model input after `[batch, seq]`."),
    dict(id="ragged_mask_unknown", section="Ragged input", title="`input.mask` names no model input",
         did="Set `input.mask: attention_mask`; the model calls it `mask`.",
         setup=_ragged(), args=cfg("input.mask=attention_mask"), exit=2,
         message=E("input.mask: model 'ragged.onnx' has no input named 'attention_mask'"),
         fix="Use the model's input name (listed by the error or by a dry run)."),
    dict(id="ragged_model_without_offsets", section="Ragged input",
         title="Model with two runtime inputs, no `input.offsets`",
         did="Ran the masked-pooling model (inputs `x` and `mask`) in dynamic mode without `input.offsets`.",
         setup=_ragged_config_without_offsets, args=cfg("mode=dynamic"), ranks=2, exit=4,
         message=E("model 'ragged.onnx' has 2 runtime inputs (x, mask) and input.dataset feeds one; map each to "
                   "a dataset (input.dataset: {x: /x, mask: /mask}) or fill it (input.fill) (set input.offsets for "
                   "ragged rows)"),
         fix="Give `input.offsets` (and `input.mask`) for a ragged model; static inputs feed one model input."),

    # ------------------------------------------------------------ output
    dict(id="output_is_input", section="Output", title="Output is the input file",
         did="Set `output.file` to the input file (with `--overwrite`).",
         setup=None, args=cfg("output.file=in.h5", extra=["--overwrite"]), ranks=2, exit=3,
         message=E("output.file 'in.h5' is the input file; choose another output path"),
         fix="Write the predictions to a new file."),
    dict(id="output_exists", section="Output", title="Output exists, no `--overwrite`",
         did="Ran the same job twice; the first run's output is there.",
         setup=lambda c: c.write("out/pred.h5", "predictions of an earlier run\n"),
         args=["config.yaml"], ranks=2, exit=3,
         message=E("output.file 'out/pred.h5' already exists (pass --overwrite to replace it)"),
         fix="Pass `--overwrite`, or choose another `output.file` (e.g. with `${SLURM_JOB_ID}`)."),
    dict(id="output_dir_uncreatable", section="Output", title="Output directory cannot be created",
         did="Set `output.file: in.h5/results/pred.h5`: `results/` is missing, and its parent is a file.",
         setup=None, args=cfg("output.file=in.h5/results/pred.h5"), exit=3,
         message=E("output.file 'in.h5/results/pred.h5': cannot create directory 'in.h5/results': "
                   "'in.h5' is not a directory"),
         fix="Point `output.file` under a directory you can write to. A missing directory is not an "
             "error: when its nearest existing parent is a writable directory, rank 0 creates it "
             "(`mkdir -p`) after every check passed, and the plan says `created results/`."),
    dict(id="output_parent_is_file", section="Output", title="Output's parent is a file",
         did="Set `output.file: in.h5/pred.h5`.",
         setup=None, args=cfg("output.file=in.h5/pred.h5"), exit=3,
         message=E("output.file 'in.h5/pred.h5': 'in.h5' is not a directory"),
         fix="Point `output.file` into a directory."),
    dict(id="output_dir_not_writable", section="Output", title="Output directory not writable",
         did="Wrote into a read-only directory (a shared project space).",
         setup=_unwritable_dir, args=cfg("output.file=ro/pred.h5"), exit=3, needs="non-root",
         message=E("output.file 'ro/pred.h5': directory 'ro' is not writable"),
         fix="Write to a directory you can write to (e.g. `$SCRATCH`). Root bypasses permissions, "
             "so this case is skipped when the tests run as root."),
    dict(id="output_is_directory", section="Output", title="Output path is a directory",
         did="Set `output.file: out` (the directory) with `--overwrite`.",
         setup=None, args=cfg("output.file=out", extra=["--overwrite"]), exit=3,
         message=E("output.file 'out' is a directory; name a file inside it, e.g. 'out/pred.h5'"),
         fix="Name a file inside the directory: `out/pred.h5`."),
    dict(id="output_locked", section="Output", title="Output being written by another job",
         did="Started the same job while an earlier one (a requeue racing the old job) still writes the output.",
         setup=_hold_output_lock, args=["config.yaml"], ranks=2, exit=3,
         message=E("the output is being written by another running mgi-mpi job (out/pred.h5.lock is locked); "
                   "wait for it or choose another output.file"),
         fix="Wait for the other job (`squeue`), or write elsewhere; the lock is released when that job's "
             "process ends, even if it is killed."),
    dict(id="disk_full", section="Output", title="Disk full / file size limit",
         did="Not enough space for the output (simulated with `prlimit --fsize=65536`: writes "
             "past 64 KiB fail with EFBIG, and the tool ignores SIGXFSZ). Rows are written in place, so "
             "the space for every row is taken when the run starts: a full disk stops it before any work.",
         setup=_many_rows, args=cfg("runtime.gather_window_bytes=16KiB"), exit=3, limit=20,
         tool_prefix=["prlimit", "--fsize=65536"], then=_resume_completes,
         leaves={"out/pred.h5.lock": "empty; the lock itself ends with the process"},
         message=E("output.file 'out/pred.h5': cannot allocate 500000 bytes for out/pred.h5.partial: "
                   "File too large; free space or raise the quota and run again"),
         fix="Free space or raise the quota, then run the same command. (A compressed output, which "
             "journals its rows, can still run out in the middle; the journal then keeps the rows done "
             "so far and the same command resumes.)"),

    dict(id="parallel_writer_compressed", section="Output", title="Parallel writer with a compressed output",
         did="Asked for `output.writer: parallel` and `output.compression: gzip`.",
         setup=None, args=cfg("output.writer=parallel", "output.compression=gzip", extra=["--dry-run"]),
         ranks=2, exit=2,
         message=E("output.writer: parallel needs rows written in place into the output file, but "
                   "output.compression is gzip; use output.writer: gather (the default) for this output"),
         fix="Every rank writes its rows at their place in the file, which needs the in-place layout: no "
             "`output.compression`, no `output.chunk_rows`, no float16/bfloat16 outputs (those are stored "
             "as float32). Drop the compression, or keep it with the default writer."),

    # ------------------------------------------------------------ journal
    dict(id="journal_other_run", section="Journal (resume)", title="Journal from another run",
         did="A run died and left `out/pred.h5.journal`; the model was retrained and the same command run again.",
         setup=_journal_from_other_model, args=["config.yaml"], ranks=2, exit=3,
         message=E("journal 'out/pred.h5.journal' belongs to another run (model_sha256 '{hex}...' here, "
                   "'{hex}...' in the journal); pass --fresh to discard it or choose another output.file"),
         fix="Pass `--fresh` to discard the old journal, or write to another `output.file`."),
    dict(id="journal_damaged", section="Journal (resume)", title="Damaged journal",
         did="Something else wrote to `out/pred.h5.journal`.",
         setup=lambda c: c.write("out/pred.h5.journal", "not a journal\n"), args=["config.yaml"], exit=3,
         message=E("journal 'out/pred.h5.journal' is not an mgi-mpi journal or is damaged; pass --fresh to "
                   "discard it"),
         fix="Pass `--fresh` to discard it."),

    # ------------------------------------------------------------ model
    dict(id="model_missing", section="Model", title="Model file does not exist",
         did="Set `model.file: models/mlp.onnx`, which does not exist.",
         setup=None, args=cfg("model.file=models/mlp.onnx"), ranks=2, exit=4,
         message=E("model.file 'models/mlp.onnx': cannot read (No such file or directory)"),
         fix="Check the path."),
    dict(id="model_empty", section="Model", title="Model file is empty",
         did="The export failed and left an empty `.onnx` file.",
         setup=lambda c: c.write("model.onnx", b""), args=["config.yaml"], exit=4,
         message=E("model model.onnx: not a valid ONNX model (protobuf parse failed)"),
         fix="Export the model again."),
    dict(id="model_truncated", section="Model", title="Truncated ONNX",
         did="Used a model file cut short by a failed copy.",
         setup=lambda c: c.truncate("model.onnx", 0.6), args=["config.yaml"], ranks=2, exit=4,
         message=E("model model.onnx: not a valid ONNX model (protobuf parse failed)"),
         fix="Copy the model again (compare `sha256sum` with the source)."),
    dict(id="model_is_hdf5", section="Model", title="Model file is not ONNX",
         did="Set `model.file` to the HDF5 input (swapped paths).",
         setup=None, args=cfg("model.file=in.h5"), exit=4,
         message=E("model in.h5: not a valid ONNX model (protobuf parse failed)"),
         fix="Point `model.file` at the `.onnx` export."),
    dict(id="model_absurd_dims", section="Model", title="ONNX initializer with absurd dims",
         did="Used a model whose initializer claims dims `[2^40, 8]`.",
         setup=_big_initializer([1 << 40, 8]), args=["config.yaml"], exit=4,
         message=E("model model.onnx: initializer 'huge': has dims whose product exceeds 2^34 elements "
                   "(corrupt or unsupported tensor)"),
         fix="The file is corrupt or not made for this tool; export it again."),
    dict(id="model_overflowing_dims", section="Model", title="ONNX initializer whose dims overflow",
         did="Used a model whose initializer dims multiply past 2^63 (`[2^32, 2^32, 2^32]`).",
         setup=_big_initializer([1 << 32, 1 << 32, 1 << 32]), args=["config.yaml"], exit=4,
         message=E("model model.onnx: initializer 'huge': has dims whose product exceeds 2^34 elements "
                   "(corrupt or unsupported tensor)"),
         fix="The file is corrupt; export it again."),
    dict(id="model_negative_dim", section="Model", title="ONNX initializer with a negative dim",
         did="Used a model whose initializer has dims `[-1, 8]`.",
         setup=_big_initializer([-1, 8]), args=["config.yaml"], exit=4,
         message=E("model model.onnx: initializer 'huge': has a negative dimension -1"),
         fix="The file is corrupt; export it again."),
    dict(id="model_raw_data_short", section="Model", title="ONNX weights shorter than their shape",
         did="Used a model whose weight `w1` holds half the bytes its shape needs.",
         setup=_model(_raw_short), args=["config.yaml"], exit=4,
         message=E("model model.onnx: initializer 'w1': raw_data has 256 bytes but shape [8, 16] of "
                   "float32 needs 128 x 4 bytes"),
         fix="The file is corrupt; export it again."),
    dict(id="unsupported_op", section="Model", title="Unsupported ONNX op",
         did="Ran a detection model with a `NonMaxSuppression` node.",
         setup=_model(_conv_model), args=["config.yaml"], ranks=2, exit=4,
         message=E("model model.onnx: unsupported ONNX op 'NonMaxSuppression' (node 'nms0', domain ai.onnx)"),
         fix="See README, Supported ONNX ops; the message names the op and the node."),
    dict(id="unsupported_domain", section="Model", title="Custom-domain op",
         did="Ran a model with a custom op `com.example.FastGelu`.",
         setup=_model(_custom_domain_model), args=["config.yaml"], exit=4,
         message=E("model model.onnx: unsupported ONNX op 'FastGelu' (node 'act0', domain com.example)"),
         fix="Export with standard ONNX ops only."),
    dict(id="model_input_not_numeric", section="Model", title="Model input is not a numeric tensor",
         did="Ran a model whose input is a string tensor (raw text).",
         setup=_model(_string_input_model), args=cfg("output.dataset=/probs"), exit=4,
         message=E("model model.onnx: input 'x' has element type string; runtime inputs must be float32, "
                   "float16, bfloat16, int64, int32, int8, uint8 or bool"),
         fix="Export the model after its tokenizer: it takes token ids (int64), which the input dataset "
             "holds as any integer type."),
    dict(id="model_two_inputs", section="Model", title="Model with two runtime inputs",
         did="Ran a model that takes two inputs (`x` and `bias`) on one dataset, in static mode.",
         setup=_model(_two_input_model), args=cfg("output.dataset=/probs"), exit=4,
         message=E("model 'model.onnx' has 2 runtime inputs (x, bias) and input.dataset feeds one; map each to a "
                   "dataset (input.dataset: {x: /x, bias: /bias}) or fill it (input.fill) (set input.offsets for "
                   "ragged rows)"),
         fix="Map each model input to its dataset (`input.dataset: {x: /x, bias: /bias}`), or give a constant "
             "input with `input.fill`."),
    dict(id="model_output_without_batch", section="Model", title="Model output without the batch first",
         did="Ran a model whose output is transposed to `[8, batch]`.",
         setup=_model(_transposed_output_model), args=cfg("output.dataset=/probs"), exit=4,
         message=E("model 'model.onnx' output 'probs' has shape [8, 2] for a batch of 2 rows; expected the "
                   "batch as its first dimension"),
         fix="Export with the batch as the first dimension of every output."),
    dict(id="model_shapes_inside", section="Model", title="Shapes that do not fit inside the graph",
         did="Ran a model whose first layer's weight is `[9, 16]` for an 8-wide input.",
         setup=_model(_wrong_weight_model), args=["config.yaml"], exit=4,
         message=E("model model.onnx: node 'fc1' (Gemm): input A has shape [1, 8] but B has shape [9, 16] "
                   "(transA=0, transB=0): inner dimensions differ"),
         fix="The model is inconsistent; check the export (onnx.checker with full_check=True)."),

    dict(id="external_data_escapes", section="Model", title="External data outside the model's folder",
         did="Ran a model whose weight file is given as `../w1.bin`.",
         setup=_external_data("../w1.bin"), args=cfg(), exit=4,
         message=E("model model.onnx: initializer 'w1': external data file '../w1.bin' leaves the model's folder "
                   "('..'); it must be inside it"),
         fix="Keep the external data files in the model's folder (or below it), as `onnx.save_model` writes them."),
    dict(id="external_data_out_of_range", section="Model", title="External data past the end of its file",
         did="Ran a model whose `w1` claims more bytes than its data file holds (a truncated copy).",
         setup=_external_data("w1.bin", length=4096), args=cfg(), exit=4,
         message=E("model model.onnx: initializer 'w1': external data range [0, 0 + 4096) runs past the end of "
                   "file 'w1.bin' ({n} bytes)"),
         fix="Copy the model's data files completely (they belong with model.onnx)."),

    # ------------------------------------------------------------ devices
    dict(id="cuda_without_gpu", section="Devices", title="`device: cuda` without a GPU",
         did="Set `runtime.device: cuda` on a CPU node.",
         setup=None, args=cfg("runtime.device=cuda"), ranks=2, exit=5, needs="no-gpu",
         message=E("runtime.device is 'cuda' but no CUDA device is visible on host {host} "
                   "(CUDA_VISIBLE_DEVICES unset); use runtime.device: cpu or auto"),
         fix="Use `runtime.device: auto` (CUDA where there is a GPU, CPU elsewhere) or `cpu`."),
    dict(id="cuda_visible_devices_empty", section="Devices", title="`CUDA_VISIBLE_DEVICES` empty",
         did="Ran with `CUDA_VISIBLE_DEVICES=` (set but empty, e.g. a Slurm job without `--gres=gpu`).",
         setup=None, args=cfg("runtime.device=cuda"), exit=5, env={"CUDA_VISIBLE_DEVICES": ""},
         message=E("runtime.device is 'cuda' but no CUDA device is visible on host {host} "
                   "(CUDA_VISIBLE_DEVICES=''); use runtime.device: cpu or auto"),
         fix="Request GPUs from the scheduler (`--gres=gpu:N`), or run on the CPU."),
    dict(id="more_ranks_than_gpus", section="Devices", title="More ranks than GPUs",
         did="Started 2 ranks on a node where `runtime.gpu_ids: [0]` leaves one GPU.",
         setup=None, args=cfg("runtime.device=cuda", "runtime.gpu_ids=[0]"), ranks=2, exit=5, needs="gpu",
         unit="tests/unit/run/test_device_select.cpp, DeviceSelect.MoreRanksThanGpusIsAnErrorUnlessSharing",
         message=E("host {host} runs 2 ranks on the same device(s) ({any}) but has 1 usable GPU(s); start at "
                   "most one rank per GPU or set runtime.allow_gpu_sharing: true"),
         fix="Start one rank per GPU (`srun --ntasks-per-node=<gpus>`), or allow sharing."),
    dict(id="gpu_ids_out_of_range", section="Devices", title="`gpu_ids` names a missing device",
         did="Set `runtime.gpu_ids: [0, 99]`.",
         setup=None, args=cfg("runtime.device=cuda", "runtime.gpu_ids=[0, 99]"), exit=2, needs="gpu",
         unit="tests/unit/run/test_device_select.cpp, DeviceSelect.GpuIdsPickAndValidate",
         message=E("runtime.gpu_ids: device 99 does not exist on host {host}, which has {n} visible "
                   "device(s) ({any})"),
         fix="List devices that exist (`nvidia-smi -L`), counted within `CUDA_VISIBLE_DEVICES`."),

    # ------------------------------------------------------------ warnings
    dict(id="report_dir_missing", section="Warnings", title="`--report` into a missing directory",
         did="Passed `--report reports/run.json` without creating `reports/`.",
         setup=None, args=["config.yaml", "--report", "reports/run.json"], exit=0, output=True,
         message="mgi-mpi: warning: --report: cannot write 'reports/run.json.tmp': No such file or directory",
         fix="Create the directory. The run itself completes (exit 0, output written); only the "
             "report is lost, with this warning."),
]
