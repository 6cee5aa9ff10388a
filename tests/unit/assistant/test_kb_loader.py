from pathlib import Path

from typer.testing import CliRunner

from services.assistant.kb.cli import app
from services.assistant.kb.loader import load_kb, merge_synonym_groups

GOOD = """version: 1
synonyms:
  - [출금, 인출, withdrawal]
articles:
  - id: withdrawal-pending
    category: withdrawals
    ko:
      title: 출금 지연
      questions: ["출금이 안 와요"]
      answer: 보통 30분 안에 끝나요.
    en:
      title: Withdrawal delay
      questions: ["withdrawal not arrived"]
      answer: Usually within 30 minutes.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_folder_loads_every_yaml(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(
        tmp_path,
        "b.yaml",
        GOOD.replace("withdrawal-pending", "other").replace(
            "  - [출금, 인출, withdrawal]\n", "  - [OTP, 2FA]\n"
        ),
    )
    write(tmp_path, "notes.txt", "not a KB file")
    result = load_kb(tmp_path, base_synonyms=None)
    assert result.ok
    assert [a.id for a in result.kb.articles] == ["withdrawal-pending", "other"]
    assert len(result.kb.synonyms) == 2


def test_duplicate_id_across_files_names_file_and_line(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    second = write(tmp_path, "b.yaml", GOOD.replace("[출금, 인출, withdrawal]", "[OTP, 2FA]"))
    result = load_kb(tmp_path, base_synonyms=None)
    assert result.kb is None
    [problem] = result.problems
    assert problem.file == str(second) and problem.line == 5
    assert "duplicate article id 'withdrawal-pending'" in problem.message


def test_missing_answer_points_at_its_language_block(tmp_path):
    path = write(tmp_path, "kb.yaml", GOOD.replace("      answer: 보통 30분 안에 끝나요.\n", ""))
    [problem] = load_kb(path, base_synonyms=None).problems
    assert problem.line == 8  # the `ko:` mapping that lacks it
    assert problem.message == "articles.0.ko.answer: missing"


def test_unknown_language_and_empty_questions(tmp_path):
    text = GOOD.replace("    en:\n", "    ja:\n").replace('["출금이 안 와요"]', "[]")
    problems = load_kb(write(tmp_path, "kb.yaml", text), base_synonyms=None).problems
    messages = {p.line: p.message for p in problems}
    assert "unknown field or language 'ja'" in messages[12]
    assert "articles.0.ko.questions" in messages[9]


def test_broken_yaml_reports_its_line(tmp_path):
    path = write(tmp_path, "kb.yaml", GOOD.replace("answer: Usually", "answer: [Usually"))
    [problem] = load_kb(path, base_synonyms=None).problems
    assert problem.line is not None and problem.message.startswith("YAML:")


def test_the_same_synonym_in_two_groups_is_a_problem(tmp_path):
    text = GOOD.replace(
        "  - [출금, 인출, withdrawal]\n", "  - [출금, 인출]\n  - [인출, cash out]\n"
    )
    [problem] = load_kb(write(tmp_path, "kb.yaml", text), base_synonyms=None).problems
    assert "synonym '인출' is in two groups" in problem.message and problem.line == 4


def test_builtin_synonyms_merge_with_the_kb_groups():
    merged = merge_synonym_groups([["출금", "인출"], ["OTP", "2FA"], ["인출", "cash out"]])
    assert merged == (("출금", "인출", "cash out"), ("OTP", "2FA"))


def test_the_shared_faq_and_the_sample_kb_are_valid():
    shared = Path(__file__).resolve().parents[4] / "shared/corpus/faq/kb"
    assert load_kb(shared).ok
    assert load_kb(Path("services/assistant/sample_kb")).ok


def test_kb_check_command(tmp_path):
    runner = CliRunner()
    write(tmp_path, "kb.yaml", GOOD)
    ok = runner.invoke(app, ["check", str(tmp_path)])
    assert ok.exit_code == 0 and "ok: 1 articles" in ok.output
    write(tmp_path, "dup.yaml", GOOD.replace("[출금, 인출, withdrawal]", "[OTP, 2FA]"))
    bad = runner.invoke(app, ["check", str(tmp_path)])
    assert bad.exit_code == 1
    assert f"{tmp_path / 'kb.yaml'}:5: duplicate article id" in bad.output  # sorted: dup first
