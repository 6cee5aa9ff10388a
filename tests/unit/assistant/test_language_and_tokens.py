from libs.common.ngrams import char_ngrams
from services.assistant.retrieval.language import Language, detect_language
from services.assistant.retrieval.tokens import Tokenizer, english_terms


def test_language_by_hangul_share():
    assert detect_language("출금이 3시간째 pending이에요") is Language.KO
    assert detect_language("KRW withdrawal fee?") is Language.EN
    assert detect_language("OTP 재설정") is Language.KO
    assert detect_language("出金が届きません") is Language.OTHER
    assert detect_language("Вывод средств не пришёл") is Language.OTHER
    assert detect_language("🙂🙂🙂") is Language.OTHER
    assert detect_language("12345 !!!") is Language.OTHER


def test_english_terms_are_lowercased_stemmed_without_stopwords():
    assert english_terms("My Withdrawals are PENDING") == ["withdraw", "pend"]


def test_korean_terms_are_content_morphemes_with_verb_lemmas(analyzer):
    terms = analyzer.terms("비번 까먹음.. 어케 찾아요")
    assert "비번" in terms and "찾다" in terms
    assert "요" not in terms


def test_mixed_text_sends_latin_words_through_the_english_path(analyzer):
    terms = analyzer.terms("출금이 3시간째 Pending이에요")
    assert "출금" in terms and "pend" in terms


def test_synonym_groups_add_one_shared_term(analyzer):
    tokenizer = Tokenizer(analyzer).with_synonyms([["출금", "인출", "withdrawal", "cash out"]])
    shared = "≡출금"
    assert shared in tokenizer.terms("인출이 안 돼요")
    assert shared in tokenizer.terms("withdrawals stuck")
    assert shared in tokenizer.terms("can't cash out my bonus")
    assert shared not in tokenizer.terms("입금이 안 돼요")


def test_kb_words_are_kept_whole_by_kiwi(analyzer):
    tokenizer = Tokenizer(analyzer).with_synonyms([["꽁머니", "보너스"]])
    assert "꽁머니" in tokenizer.raw_terms("꽁머니 굴려서 번 돈")


def test_char_ngrams_ignore_spacing():
    assert set(char_ngrams("출금 안됨")) == set(char_ngrams("출금안됨"))


def test_english_sentence_naming_a_person_in_hangul_is_english():
    assert detect_language("Hi, I'm 김민수 and my withdrawal is still pending") is Language.EN
    assert detect_language("my friend 지수 sent me the referral link, where is my reward") is (
        Language.EN
    )
    # Korean grammar around English words stays Korean.
    assert detect_language("출금 신청했는데 still pending 이에요 확인 부탁드려요") is Language.KO
    assert detect_language("OTP 재설정") is Language.KO


def test_romanised_korean_is_answered_in_korean():
    assert detect_language("chulgeum i an dwaeyo") is Language.KO
    assert detect_language("annyeonghaseyo ipgeum eotteoke haeyo?") is Language.KO
    assert detect_language("bimilbeonho ijeobeoryeosseoyo juseyo") is Language.KO
    # Plain English with one Korean-looking word stays English.
    assert detect_language("why is my withdrawal pending, ne?") is Language.EN
    assert detect_language("Tokyo office hours?") is Language.EN
