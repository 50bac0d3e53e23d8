"""The app frame and the Structure page, driven headlessly with Streamlit's AppTest (no browser).

The drawing itself runs in the browser (see tests/e2e); here its Python side is covered through the same
callbacks it triggers, plus the payload checks of bngan.ui.dag_editor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bngan.structure import LatentStructure, StructureError
from bngan.ui import state
from bngan.ui.dag_editor import edge_key, editor_data, parse_edit

ROOT = Path(__file__).resolve().parents[1]
ENTANGLED = [["c1", "c1'"], ["c2", "c2'"], ["c3", "c3'"], ["c1", "c3'"], ["c2", "c3'"]]


@pytest.fixture
def app() -> AppTest:
    """The whole app (navigation included), opened on its first page, Structure."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    return at.run()


def table_edges(at: AppTest) -> list[list[str]]:
    frame = at.dataframe[0].value
    return frame[["parent", "child"]].values.tolist()


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def with_edges(at: AppTest, edges: list[list[str]]) -> AppTest:
    data = at.session_state[state.STATE_KEY]
    at.session_state[state.STATE_KEY] = {**data, "edges": edges}
    return at.run()


# page -----------------------------------------------------------------------------------------------------
def test_default_structure_is_valid_and_shown_everywhere(app: AppTest) -> None:
    assert not app.exception
    assert [s.value for s in app.success] == ["Valid structure: 3 codes, 5 edges."]
    assert table_edges(app) == ENTANGLED
    assert [app.text_input(key=state.label_widget_key(i)).value for i in (1, 2, 3)] == [
        "thickness", "rotation", "thick+rot"]
    assert any("pulls together" in m.value for m in app.markdown)


def test_presets_change_the_table(app: AppTest) -> None:
    app.selectbox(key=state.PRESET_KEY).set_value("disentangled")
    app.number_input(key=state.PRESET_K_KEY).set_value(5)
    button(app, "Apply preset").click().run()
    assert table_edges(app) == [[f"c{i}", f"c{i}'"] for i in range(1, 6)]
    assert [s.value for s in app.success][-1] == "Valid structure: 5 codes, 5 edges."
    assert app.text_input(key=state.label_widget_key(1)).value == "thickness"  # kept
    assert app.text_input(key=state.label_widget_key(5)).value == ""

    app.selectbox(key=state.PRESET_KEY).set_value("reference")
    button(app, "Apply preset").click().run()
    assert table_edges(app)[-4:] == [[f"c{i}", "c5'"] for i in range(1, 5)]


def test_impossible_preset_says_why_and_keeps_the_structure(app: AppTest) -> None:
    app.selectbox(key=state.PRESET_KEY).set_value("entangled")
    app.number_input(key=state.PRESET_K_KEY).set_value(2)
    button(app, "Apply preset").click().run()
    assert any("needs k >= 3" in e for e in errors(app))
    assert table_edges(app) == ENTANGLED


def test_cycle_is_reported_with_its_nodes(app: AppTest) -> None:
    at = with_edges(app, [*ENTANGLED, ["c1'", "c2'"], ["c2'", "c1'"]])
    assert any("Cycle" in e and "c1'" in e and "c2'" in e and "remove one" in e for e in errors(at))
    assert not at.success
    assert at.get("download_button")[0].proto.disabled  # only a valid structure can be exported


def test_edge_into_an_observed_code_is_reported(app: AppTest) -> None:
    at = with_edges(app, [*ENTANGLED, ["c2", "c1"]])
    (message,) = errors(at)
    assert "c2 -> c1" in message and "observed code c1" in message


def test_latent_without_parent_is_reported(app: AppTest) -> None:
    at = with_edges(app, ENTANGLED[:2])
    assert any("c3'" in e and "no parent" in e for e in errors(at))


def test_locked_structure_shows_that_the_job_uses_a_copy(app: AppTest, tmp_path, monkeypatch) -> None:
    from bngan.config import TrainConfig
    from bngan.ui import registry

    monkeypatch.setenv("BNGAN_RUNS_DIR", str(tmp_path))
    job = registry.get_registry().start_training(TrainConfig(steps=10**6, batch_size=8, device="cpu"))
    try:
        app.run()
        assert any("next run" in i.value for i in app.info)
    finally:
        job.stop()
        job.thread.join(timeout=60)
    app.run()
    assert not any("next run" in i.value for i in app.info)


def test_invalid_json_upload_errors_and_keeps_the_structure(app: AppTest) -> None:
    app.file_uploader[0].set_value(("broken.json", b"{not json", "application/json")).run()
    assert any("Could not import broken.json" in e and "not valid JSON" in e for e in errors(app))
    assert table_edges(app) == ENTANGLED

    cyclic = json.dumps({"k": 2, "edges": [["c1", "c1'"], ["c1'", "c2'"], ["c2'", "c1'"]]}).encode()
    app.file_uploader[0].set_value(("cyclic.json", cyclic, "application/json")).run()
    assert any("cyclic.json" in e and "cycle" in e for e in errors(app))
    assert app.session_state[state.STATE_KEY]["k"] == 3


def test_oversized_upload_is_refused(app: AppTest) -> None:
    big = b" " * (state.MAX_IMPORT_BYTES + 1)
    app.file_uploader[0].set_value(("big.json", big, "application/json")).run()
    assert any("at most 64 KB" in e for e in errors(app))
    assert table_edges(app) == ENTANGLED


def test_valid_upload_replaces_the_structure(app: AppTest) -> None:
    upload = LatentStructure.preset("reference", 4, labels={4: "style"}).to_json().encode()
    app.file_uploader[0].set_value(("ref.json", upload, "application/json")).run()
    assert [s.value for s in app.success][-1] == "Valid structure: 4 codes, 7 edges."
    assert app.text_input(key=state.label_widget_key(4)).value == "style"
    assert len(table_edges(app)) == 7


def test_no_torch_import_when_the_app_starts() -> None:
    """The app must start instantly: neither app.py nor the Structure page may pull in torch."""
    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        "at = AppTest.from_file('app.py', default_timeout=30).run(); "
        "assert not at.exception, at.exception; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


# callbacks (what the drawing and the table trigger) ------------------------------------------------------
def _drawing_edit_script() -> None:
    import streamlit as st

    from bngan.ui import state

    state.ensure_structure()
    if not st.session_state.get("edited"):
        st.session_state.edited = True
        state.on_drawing_edit({"k": 4, "edges": [["c1", "c1'"], ["c1'", "c2'"], ["c4", "c4'"]],
                               "labels": {1: "thickness", 4: "slant"}, "seq": 7})


def test_drawing_edit_updates_structure_table_and_labels() -> None:
    at = AppTest.from_function(_drawing_edit_script).run()
    assert at.session_state[state.STATE_KEY] == {
        "k": 4,
        "edges": [["c1", "c1'"], ["c1'", "c2'"], ["c4", "c4'"]],
        "labels": {1: "thickness", 4: "slant"},
    }
    assert at.session_state[state.TABLE_ROWS_KEY][1] == {"parent": "c1'", "child": "c2'"}
    assert at.session_state[state.label_widget_key(4)] == "slant"
    assert at.session_state[state.label_widget_key(2)] == ""
    assert at.session_state[state.PRESET_K_KEY] == 4
    assert at.session_state[state.ACK_KEY] == 7


def _table_edit_script() -> None:
    import streamlit as st

    from bngan.ui import state

    state.ensure_structure()
    if not st.session_state.get("edited"):
        st.session_state.edited = True
        key = state.table_widget_key()
        st.session_state[key] = {
            "edited_rows": {0: {"child": "c2'"}},
            "deleted_rows": [3],
            "added_rows": [{"parent": "c1'", "child": "c3'"}, {"parent": "c2"}],
        }
        state.on_table_change(key)


def test_table_edit_updates_the_structure_but_keeps_its_own_rows() -> None:
    at = AppTest.from_function(_table_edit_script).run()
    edges = at.session_state[state.STATE_KEY]["edges"]
    assert edges == [["c1", "c2'"], ["c2", "c2'"], ["c3", "c3'"], ["c2", "c3'"], ["c1'", "c3'"]]
    assert at.session_state[state.TABLE_VERSION_KEY] == 1  # not rebuilt: the half-filled row survives


def test_apply_table_delta_and_incomplete_rows() -> None:
    rows = [{"parent": "c1", "child": "c1'"}, {"parent": "c2", "child": "c2'"}]
    delta = {"edited_rows": {"1": {"parent": "c1"}}, "deleted_rows": [0], "added_rows": [{"child": "c2'"}]}
    result = state.apply_table_delta(rows, delta)
    assert result == [{"parent": "c1", "child": "c2'"}, {"parent": None, "child": "c2'"}]
    assert state.edges_from_rows(result) == [["c1", "c2'"]]


def test_parse_structure_upload_messages() -> None:
    with pytest.raises(StructureError, match="at most 64 KB"):
        state.parse_structure_upload(b"x" * (65 * 1024))
    with pytest.raises(StructureError, match="UTF-8"):
        state.parse_structure_upload(b"\xff\xfe\x00")
    with pytest.raises(StructureError, match="'k' and 'edges'"):
        state.parse_structure_upload(b'{"edges": []}')
    assert state.parse_structure_upload(LatentStructure.preset("disentangled", 2).to_json().encode()).k == 2


# component payloads ---------------------------------------------------------------------------------------
def test_parse_edit_normalises_and_rejects() -> None:
    snapshot = {"k": 2, "edges": [["c1", "c1'"], ["c9", "c1'"], "junk"], "labels": {"1": " a ", "5": "x"},
                "seq": 3}
    assert parse_edit(snapshot) == {"k": 2, "edges": [["c1", "c1'"]], "labels": {1: "a"}, "seq": 3}
    for bad in (None, "x", {"k": 0, "edges": []}, {"k": 17, "edges": []}, {"k": True, "edges": []},
                {"k": 2, "edges": "c1"}):
        assert parse_edit(bad) is None


def test_editor_data_carries_problems_weights_and_stats() -> None:
    edges = [["c1", "c1'"], ["c1'", "c2'"], ["c2'", "c1'"]]
    from bngan.structure import find_problems

    data = editor_data(2, edges, {1: "thickness"}, problems=find_problems(2, edges),
                       weights={edge_key("c1", "c1'"): 0.8}, latent_stats={"c1'": {"sigma2": 0.1, "r2": 0.9}})
    assert data["labels"] == {"1": "thickness"}
    assert any(p["edges"] and "cycle" in p["message"] for p in data["problems"])
    assert data["weights"] == {"c1->c1'": 0.8}
    assert data["latent_stats"] == {"c1'": {"sigma2": 0.1, "r2": 0.9}}
    json.dumps(data)  # must travel as JSON


def test_learned_weights_of_a_finished_job_are_drawn_on_the_same_structure(app: AppTest, tmp_path, monkeypatch):
    """After training, the graph shows the local weights (edge width ∝ |w|) of that job's structure."""
    from bngan.config import TrainConfig
    from bngan.structure import LatentStructure
    from bngan.ui import registry

    monkeypatch.setenv("BNGAN_RUNS_DIR", str(tmp_path))
    structure = LatentStructure.preset("entangled", 3)
    job = registry.get_registry().start_training(
        TrainConfig(steps=2, batch_size=8, sample_every=1, device="cpu", structure=structure.to_dict()))
    job.thread.join(timeout=120)
    app.session_state["structure"] = {"k": 3, "edges": [list(e) for e in structure.edges], "labels": {}}
    app.run()
    assert any(f"job {job.id}" in c.value for c in app.caption)
    app.session_state["structure"] = {"k": 3, "edges": [list(e) for e in structure.edges[:3]], "labels": {}}
    app.run()  # another graph: the learned numbers would describe a different network
    assert not any(f"job {job.id}" in c.value for c in app.caption)


def agreement_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Agreement of this model with"))


def test_measured_model_is_scored_against_the_drawing(app: AppTest) -> None:
    """The default model's effect matrix is shown; its agreement follows the drawing being edited."""
    assert [c.key for c in app.get("plotly_chart")] == ["structure_effects", "structure_readout"]
    entangled = agreement_line(app)
    assert "c1, c2 among its ancestors" in " ".join(m.value for m in app.markdown)
    disentangled = with_edges(app, [["c1", "c1'"], ["c2", "c2'"], ["c3", "c3'"]])
    assert agreement_line(disentangled) != entangled
    assert "c3' has c1, c2 among its ancestors" not in " ".join(m.value for m in disentangled.markdown)
    broken = with_edges(app, [["c1", "c1'"], ["c2", "c2'"]])  # c3' has no parent
    assert not any(m.value.startswith("Agreement of this model") for m in broken.markdown)
    assert any("Fix the drawing's problems" in c.value for c in broken.caption)


def test_the_drawing_survives_a_reload_through_the_url() -> None:
    """The structure (valid or not) and its labels are kept in ``?structure=``; a fresh session (a browser
    reload empties the session) starts from it; a malformed URL falls back to the default."""
    first = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    edited = with_edges(first, [["c1", "c1'"], ["c2", "c2'"], ["c3", "c3'"], ["c1", "c2'"]])
    edited.text_input(key=state.label_widget_key(2)).set_value("slant").run()
    url = edited.query_params[state.QUERY_KEY]
    url = url[0] if isinstance(url, list) else url
    assert json.loads(url)["labels"]["2"] == "slant"

    reloaded = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    reloaded.query_params[state.QUERY_KEY] = url
    reloaded.run()
    assert table_edges(reloaded) == [["c1", "c1'"], ["c2", "c2'"], ["c3", "c3'"], ["c1", "c2'"]]
    assert reloaded.text_input(key=state.label_widget_key(2)).value == "slant"

    for bad in ("{", '{"k": 99, "edges": [], "labels": {}}', '{"k": true, "edges": [], "labels": {}}',
                '{"k": 3, "edges": [["c1"]], "labels": {}}', "[" * 5000):
        assert state.structure_from_url(bad) is None
        fallback = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        fallback.query_params[state.QUERY_KEY] = bad
        fallback.run()
        assert not fallback.exception and table_edges(fallback) == ENTANGLED


def test_the_preset_menu_names_the_drawing_it_shows(app: AppTest) -> None:
    assert app.selectbox(key=state.PRESET_KEY).value == "entangled"
    assert state.matching_preset(3, [*ENTANGLED, ["c3", "c1'"]]) == "custom"
    assert state.matching_preset(3, list(reversed(ENTANGLED))) == "entangled"
    assert state.matching_preset(3, [["c1", "c1'"], ["c2", "c2'"], ["c3", "c3'"]]) == "disentangled"
    app.selectbox(key=state.PRESET_KEY).set_value("disentangled").run()
    button(app, "Apply preset").click().run()
    assert app.selectbox(key=state.PRESET_KEY).value == "disentangled"
    # a drawing that matches no preset: "custom" applies nothing and says so
    edges = [["c1", "c1'"], ["c2", "c2'"], ["c3", "c3'"], ["c3", "c1'"]]
    at = with_edges(app, edges)
    at.selectbox(key=state.PRESET_KEY).set_value("custom").run()
    button(at, "Apply preset").click().run()
    assert any("Choose a preset to apply" in e for e in errors(at))
    assert at.session_state[state.STATE_KEY]["edges"] == edges  # the drawing is untouched
