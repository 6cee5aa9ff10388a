from services.assistant.domain.suggest import suggested_articles
from services.assistant.retrieval.index import Hit, Retrieval


def retrieval(confidence, *scores):
    hits = tuple(Hit(f"a{i}", "en", s) for i, s in enumerate(scores))
    return Retrieval(hits, confidence, ())


def test_up_to_two_articles_above_the_threshold():
    assert suggested_articles(retrieval(0.5, 0.6, 0.55, 0.5), threshold=0.2) == ["a0", "a1"]
    assert suggested_articles(retrieval(0.5, 0.6, 0.3), threshold=0.2) == ["a0"]
    assert suggested_articles(retrieval(0.1, 0.6, 0.55), threshold=0.2) == []
    assert suggested_articles(retrieval(0.5), threshold=0.2) == []


def test_on_the_shared_faq(faq_engine):
    found = suggested_articles(faq_engine.search("how do I reset my password"), threshold=0.2)
    assert found and found[0] == "password-reset" and len(found) <= 2
