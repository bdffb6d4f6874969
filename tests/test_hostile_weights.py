"""Issue 20, classes 3 and 8: weight keywords before paths; dependency floors.

`weights="imagenet"`, every tag and every `model.tag` name are names even when a file or
folder of that name sits in the working folder (reachable as `./imagenet`); one function
decides (`pretrained.classify_weights_argument`) and every caller asks it. The dependency
floors in setup.cfg stay at releases without the known vulnerabilities, and an older
PyTorch is refused for `.pth` files at run time.
"""

import configparser
import os
import pathlib
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keras_dense
from keras_dense.cli import argtypes
from keras_dense.inference import built, engines
from keras_dense.models import _builder, model_record, pretrained, weights_records
from keras_dense.weights import WeightsUnavailableError, resolve, torch_state

SETUP_CFG = pathlib.Path(__file__).resolve().parents[1] / "setup.cfg"
KEYWORDS = ("imagenet", "keras_imagenet", "densenet121.keras_imagenet")


@pytest.fixture
def hostile_cwd(tmp_path, monkeypatch):
    """A working folder holding a folder `imagenet`, a file `keras_imagenet` and a folder
    `densenet121.keras_imagenet` (with a file inside, as a dataset would be), no weights
    anywhere, and downloads that fail at once, naming the file asked for."""
    work = tmp_path / "work"
    (work / "imagenet" / "val").mkdir(parents=True)
    (work / "keras_imagenet").write_bytes(b"not a weights file")
    (work / "densenet121.keras_imagenet").mkdir()
    (work / "densenet121.keras_imagenet" / "x.h5").write_bytes(b"junk")
    monkeypatch.chdir(work)
    monkeypatch.delenv("KERAS_DENSE_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(resolve, "_CHECKOUT", tmp_path / "no_checkout")
    asked = []

    def offline(weights_file, target_dir=None, timeout=None, extra_dirs=()):
        asked.append(weights_file.file_name)
        raise WeightsUnavailableError(
            resolve.unavailable_message(weights_file, "offline in this test", extra_dirs)
        )

    monkeypatch.setattr(resolve, "download_file", offline)
    return work, asked


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_keywords_are_names_even_beside_files_of_that_name(hostile_cwd, keyword):
    record = model_record("densenet121")
    assert pretrained.classify_weights_argument(keyword) == ("tag", keyword)
    source = _builder.resolve_weights(keyword, record.config, record, record.name)
    assert source.name == "densenet121.keras_imagenet"
    assert built.weights_identity(keyword) == keyword  # not the folder's size and time
    assert built.preprocess_of(record, keyword) == "torch"
    key = engines.record_key(record, keyword, "onnxruntime", "float32")
    assert key["weights"]["source"] == "densenet121.keras_imagenet"


def test_get_model_imagenet_asks_for_the_published_file_not_the_local_folder(hostile_cwd):
    _, asked = hostile_cwd
    (hostile_cwd[0] / "imagenet" / "val").rmdir()
    (hostile_cwd[0] / "imagenet").rmdir()
    (hostile_cwd[0] / "imagenet").write_bytes(b"a file named imagenet, not weights")
    with pytest.raises(
        WeightsUnavailableError, match="densenet121_weights_tf_dim_ordering_tf_kernels.h5"
    ):
        keras_dense.get_model("densenet121", weights="imagenet")
    assert asked == ["densenet121_weights_tf_dim_ordering_tf_kernels.h5"]


def test_a_file_named_like_a_tag_is_reachable_as_a_path(hostile_cwd):
    record = model_record("densenet121")
    for text in ("./keras_imagenet", os.path.abspath("keras_imagenet")):
        assert pretrained.classify_weights_argument(text) == ("path", text)
        source = _builder.resolve_weights(text, record.config, record, record.name)
        assert source == pathlib.Path(text)
    assert pretrained.classify_weights_argument(pathlib.Path("imagenet"))[0] == "path"
    with pytest.raises(ValueError, match=r"Weights file '\./imagenet' is a folder, not a file"):
        keras_dense.get_model("densenet121", weights="./imagenet")  # a folder, not a file


def test_a_tag_the_model_lacks_keeps_its_refusal_beside_a_file_of_that_name(hostile_cwd):
    (hostile_cwd[0] / "tv_imagenet").write_bytes(b"junk")
    with pytest.raises(
        ValueError,
        match="resnet50 cannot load weights='tv_imagenet': resnet50's tags are keras_imagenet",
    ):
        keras_dense.get_model("resnet50", weights="tv_imagenet")
    with pytest.raises(
        ValueError,
        match="lenet5 cannot load weights='keras_imagenet': lenet5 has no published weights",
    ):
        keras_dense.get_model("lenet5", weights="keras_imagenet")


def test_none_words_and_command_line_values(hostile_cwd):
    (hostile_cwd[0] / "none").write_bytes(b"junk")
    for text in ("none", "None", "NONE"):
        assert pretrained.classify_weights_argument(text) == ("none", None)
        assert argtypes.weights_value(text) is None
    assert argtypes.weights_value("./none") == "./none"
    assert argtypes.weights_value("imagenet") == "imagenet"
    assert pretrained.classify_weights_argument(None) == ("none", None)
    # a word that is no keyword: a path when it exists, else a (refused) name
    (hostile_cwd[0] / "my_weights").write_bytes(b"junk")
    assert pretrained.classify_weights_argument("my_weights") == ("path", "my_weights")
    assert pretrained.classify_weights_argument("keras_imagenett") == ("tag", "keras_imagenett")
    for bad in ("", "   ", 3, b"imagenet"):
        with pytest.raises(ValueError, match="weights"):
            pretrained.classify_weights_argument(bad)


# --- property: any string is one of the three kinds or the one-line ValueError -----------

_TAGS = sorted({"imagenet", *(w.tag for w in weights_records())})
_NAMES = sorted(w.name for w in weights_records())
_SUFFIXES = (*pretrained.WEIGHTS_FILE_SUFFIXES, ".weights.h5", ".H5", ".txt", "")
_EXISTING = (
    "imagenet",
    "keras_imagenet",
    "densenet121.keras_imagenet",
    "tv_imagenet",
    "weights.h5",
    "plain",
    "none",
)
_words = st.one_of(
    st.sampled_from(_TAGS),
    st.sampled_from(_NAMES),
    st.sampled_from(_EXISTING),
    st.text(alphabet=string.ascii_letters + string.digits + "._-/\\~ ", max_size=20),
    st.text(max_size=12),  # any unicode: NUL, surrogates, separators
)
_arguments = st.one_of(
    st.builds(
        lambda prefix, word, suffix: prefix + word + suffix,
        st.sampled_from(("", "", "./", "../", "/", "~/", "sub/")),
        _words,
        st.sampled_from(_SUFFIXES),
    ),
    st.builds(str.upper, _words),
    st.none(),
)


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_names")
    for name in _EXISTING:
        path = folder / name
        if name.endswith(".h5") or name in ("keras_imagenet", "none"):
            path.write_bytes(b"junk")
        else:
            path.mkdir()
    (folder / "sub").mkdir()
    return folder


def _snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=_arguments)
def test_classifier_returns_a_kind_or_one_line_error_and_writes_nothing(
    populated, monkeypatch, value
):
    monkeypatch.chdir(populated)
    before = _snapshot(populated)
    try:
        kind, result = pretrained.classify_weights_argument(value)
    except ValueError as error:
        assert len(str(error).splitlines()) == 1
        assert not isinstance(value, str) or not value.strip()
    else:
        assert kind in pretrained.WEIGHTS_KINDS
        if kind == "none":
            assert result is None and (value is None or value.lower() == "none")
        else:
            assert result == value
        if isinstance(value, str) and value.lower() != "none":
            path_like = "/" in value or value.lower().endswith(pretrained.WEIGHTS_FILE_SUFFIXES)
            if path_like:
                assert kind == "path"
            elif pretrained.is_weights_keyword(value):
                assert kind == "tag"  # a keyword never reads the folder
    assert _snapshot(populated) == before


# --- class 8: dependency floors ------------------------------------------------------------


def _requirements():
    from packaging.requirements import Requirement

    config = configparser.ConfigParser()
    config.read(SETUP_CFG, encoding="utf8")
    lines = config["options"]["install_requires"].splitlines()
    lines += config["options.extras_require"]["torch"].splitlines()
    return {r.name.lower(): r for r in map(Requirement, filter(str.strip, lines))}


def _floor(requirement):
    from packaging.version import Version

    floors = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==")]
    assert floors, f"{requirement} has no floor"
    return max(floors)


def test_dependency_floors_exclude_the_known_vulnerable_releases():
    from packaging.version import Version

    requirements = _requirements()
    # keras: safe_mode bypasses and get_file path traversal fixed by 3.14; the last
    # hardening (archive bombs, restricted unpickling) in 3.15.1
    assert _floor(requirements["keras"]) >= Version("3.15.1")
    assert not requirements["keras"].specifier.contains("3.13.2")
    # torch.load(weights_only=True) bypasses: CVE-2025-32434 (2.6.0), CVE-2026-24747 (2.10.0)
    assert _floor(requirements["torch"]) >= Version("2.6")
    assert _floor(requirements["torch"]) == Version(".".join(map(str, torch_state.MIN_TORCH)))
    assert _floor(requirements["pillow"]) >= Version("12.3")


def test_installed_packages_satisfy_the_floors():
    """`pip install -e .` changes nothing where the suite runs."""
    import importlib.metadata

    for name, requirement in _requirements().items():
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        assert requirement.specifier.contains(version, prereleases=True), (name, version)


def test_old_torch_is_refused_for_pth_files_with_one_line(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    path = tmp_path / "state.pth"
    torch.save({"w": torch.zeros(2)}, path)
    assert set(torch_state.read_state_dict(path)) == {"w"}  # the installed torch reads it
    monkeypatch.setattr(torch, "__version__", "2.5.1+cpu")
    with pytest.raises(torch_state.TorchUnavailableError) as error:
        torch_state.read_state_dict(path)
    message = str(error.value)
    assert len(message.splitlines()) == 1 and isinstance(error.value, ValueError)
    for part in (
        "PyTorch 2.5.1+cpu is installed",
        "needs PyTorch >= 2.10",
        'pip install "torch>=2.10"',
    ):
        assert part in message
    for version, refused in (
        ("2.9.1", True),
        ("2.10.0", False),
        ("2.13.0+cpu", False),
        ("2.10.0a0+git1234", False),
        ("garbage", True),
        ("3.0", False),
    ):
        if refused:
            with pytest.raises(torch_state.TorchUnavailableError):
                torch_state.check_torch_version(version)
        else:
            torch_state.check_torch_version(version)
