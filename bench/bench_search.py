"""Search benchmark: 100,000 experiments in a real PostgreSQL, the service's own query function.

Seeds a fresh database (migrated to head) with 100,000 experiments of Finnish text made from a
word list with a Zipf-like word frequency (6 % Swedish, 4 % English), the registry's commonest
words on top: `kunta` ends up in nearly every document and `kokeilu` in ~90 % (and in the
title of ~40 %), as in real texts about municipal experiments. Then times
`experiments.adapters.search.search_experiments` in-process, exactly as the API calls it: those
words alone in each sort the API offers (relevance, newest, updated), page 50 at the API's 20
per page, several filtered full-text queries and plain lists. Per query: p50/p95, the p50 in
primary-key lookups timed just before (steady when the machine's load is not), whether the
page is the plain query's (every match sorted, OFFSET), the p50 with every match counted (the
query before the estimated total) and, side by side, without the GIN index (dropped inside a
transaction that is rolled back). Ends with RESULT lines: p95 under 20 ms for every query.

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/bench_search.py
BENCH_REUSE=1 measures again on the database seeded before (migrated to head first);
BENCH_RUNS, BENCH_RUNS_COUNTED, BENCH_RUNS_WITHOUT_INDEX, BENCH_EXPERIMENTS.
"""

from __future__ import annotations

import functools
import itertools
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psycopg
from alembic import command
from alembic.config import Config
from common import result
from experiments.adapters.models import Experiment, ExperimentSearch
from experiments.adapters.search import ExperimentFilters, all_matching, search_experiments
from sqlalchemy import Row, func, select, text
from sqlalchemy.orm import Session
from uskalla_events import Database

N = int(os.environ.get("BENCH_EXPERIMENTS", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
RUNS_WITHOUT_INDEX = int(os.environ.get("BENCH_RUNS_WITHOUT_INDEX", "5"))
RUNS_COUNTED = int(os.environ.get("BENCH_RUNS_COUNTED", "10"))
#: Suffixed like the other benchmarks' databases, so that two runs at once do not collide.
DB_NAME = "bench_experiments_search_" + os.environ.get("PYTEST_XDIST_WORKER", "main")
MIGRATIONS = Path(__file__).parents[1] / "services/experiments/src/experiments/migrations"

FINNISH = """
kokeilu kokeilun kokeiluja kokeilussa kokeilua kokeilut kokeilusta kokeiluun kunta kunnan kunnassa
kuntia kuntien kuntalaiset kuntalaisten asukas asukkaat asukkaiden palvelu palvelun palveluja
palveluiden palvelut digitaalinen digitaalisen digitaalisia sähköinen sähköisen asiointi asioinnin
kirjasto kirjaston kirjastossa kirjastoja koulu koulun koulussa kouluja oppilaat oppilaiden
opettaja opettajat päiväkoti päiväkodin varhaiskasvatus varhaiskasvatuksen nuoret nuorten nuoria
ikäihmiset ikäihmisten vanhus vanhusten kotihoito kotihoidon terveys terveyden terveyskeskus
sosiaalipalvelut sote hyvinvointialue hyvinvointialueen hyvinvointi hyvinvoinnin hankinta hankinnan
hankintoja hankinnat innovatiivinen innovatiivisen innovaatio innovaatiot yritys yritykset yritysten
yhteistyö yhteistyön yhteistyössä kumppani kumppanit järjestö järjestöt järjestöjen vapaaehtoiset
osallisuus osallisuuden osallistuminen osallistava osallistavan budjetointi budjetoinnin demokratia
asukasraati asukasraadin työllisyys työllisyyden työnhakija työnhakijat työpaikka työpaikat
liikunta liikunnan liikuntapaikka liikuntapaikat kulttuuri kulttuurin museo museon teatteri
ympäristö ympäristön ilmasto ilmaston energia energian kierrätys kierrätyksen jätehuolto
liikenne liikenteen joukkoliikenne kyyti kyydit pyöräily kävely katu kadut tie tiet
kaavoitus kaavoituksen rakentaminen rakennus rakennukset tila tilat tilojen käyttö käytön
aineisto aineiston data datan tekoäly tekoälyn robotti robotiikka sovellus sovelluksen mobiili
verkkopalvelu verkkopalvelun chatbot etäyhteys etävastaanotto videoyhteys laite laitteet
tulos tulokset tuloksia arviointi arvioinnin mittari mittarit vaikutus vaikutukset vaikuttavuus
oppiminen oppimisen kehittäminen kehittämisen muutos muutoksen prosessi prosessin malli mallin
toimintamalli toimintamallin pilotti pilotin pilotointi rinnakkaisorganisaatio ketterä ketterän
henkilöstö henkilöstön työntekijät työntekijöiden johtaminen johtamisen esimies tiimi tiimit
asiakas asiakkaat asiakkaiden asiakaskokemus palaute palautteen kysely kyselyn haastattelu
kesä talvi syksy kevät vuosi vuoden kuukausi viikko päivä aamu ilta
uusi uuden uusia vanha hyvä parempi paras helppo nopea nopeampi yhteinen yhteisen oma omat
pieni suuri laaja paikallinen alueellinen valtakunnallinen avoin avoimen maksuton edullinen
parantaa parantaminen vähentää lisätä tukea tuki tuen ohjaus ohjauksen neuvonta neuvonnan
epäonnistui onnistui opittiin kokeiltiin toteutettiin selvitettiin testattiin mitattiin
ja tai sekä että kun jos mutta myös vielä jo nyt sitten kanssa ilman kautta mukaan
""".split()  # noqa: SIM905 (a word list reads best as text)
SWEDISH = """
försök försöket försöken kommun kommunen kommunens invånare invånarna tjänst tjänster tjänsterna
digital digitala bibliotek biblioteket skola skolan elever äldre hemvård hälsa välfärd upphandling
innovativ samarbete föreningar delaktighet budget sysselsättning kultur miljö klimat trafik
resultat utvärdering lärande utveckling modell kund kunder enkät och eller men även med utan
""".split()  # noqa: SIM905 (a word list reads best as text)
ENGLISH = """
experiment experiments experimenting municipality municipalities residents service services
digital library libraries school pupils elderly care health wellbeing procurement innovative
cooperation organisations participation budgeting employment culture environment climate
transport results evaluation learning development model customers survey and or but also with
""".split()  # noqa: SIM905 (a word list reads best as text)
THEMES = [
    "digital-municipality",
    "health-and-social-reform",
    "innovative-procurement",
    "parallel-organisations",
    "participation-and-democracy",
    "education-and-learning",
    "employment",
    "climate-and-environment",
]
MUNICIPALITIES = ["091", "049", "092", "837", "564", "853", "179", "297", "398", "905", "109"]
OUTCOMES = ["succeeded", "partly_succeeded", "failed", "inconclusive"]


FINNISH_SUFFIXES = ["", "n", "ssa", "sta", "lla", "lle", "ksi", "a", "t", "jen", "ihin", "na"]
#: The registry's commonest words, in order: in a register of municipal experiments nearly every
#: text speaks of the experiment (kokeilu) and the municipality (kunta) in some form. They take
#: the top Zipf ranks among the stop words, so `kunta` is in ~95 % of the documents and
#: `kokeilu` in the title of about a third: the worst case for a search, as in the real texts.
COMMONEST = """
ja kokeilu kunta kokeilun kunnan sekä kokeilussa kunnassa myös kokeiluja kuntalaiset kuntien
""".split()  # noqa: SIM905 (a word list reads best as text)


def finnish_vocabulary(rng: random.Random) -> list[str]:
    """The commonest words first, then inflected forms of the stems and two-stem compounds
    (kirjastopalvelu), as Finnish has, in an order of their own."""
    stems = [w for w in dict.fromkeys(FINNISH) if len(w) > 3]
    forms = [stem + suffix for stem in stems for suffix in FINNISH_SUFFIXES]
    compounds = {rng.choice(stems) + rng.choice(stems) for _ in range(8000)}
    rest = sorted(set(forms + sorted(compounds)) - set(COMMONEST))
    rng.shuffle(rest)  # frequency rank independent of the list's order
    return COMMONEST + rest


def zipf_words(words: list[str], exponent: float = 1.0) -> Callable[[random.Random, int], str]:
    """Words drawn with Zipf-like frequencies (rank r has weight 1/r^s), as in real text."""
    weights = [1 / (rank + 1) ** exponent for rank in range(len(words))]
    cumulative = list(itertools.accumulate(weights))

    def make(rng: random.Random, count: int) -> str:
        return " ".join(rng.choices(words, cum_weights=cumulative, k=count))

    return make


def fresh_database(server: str) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return migrated(server.rsplit("/", 1)[0] + "/" + DB_NAME)


def migrated(url: str) -> str:
    """The database at head (a reused one gains any migration landed since it was seeded)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("postgresql://", "postgresql+psycopg://"))
    command.upgrade(config, "head")
    return url


def seed(url: str) -> None:
    rng = random.Random(20260101)
    texts = {
        "fi": zipf_words(finnish_vocabulary(rng)),
        "sv": zipf_words(SWEDISH, 0.7),
        "en": zipf_words(ENGLISH, 0.7),
    }
    columns = (
        "id, title, summary, description, kind, scale, themes, municipality_codes, organisation,"
        " problem, goals, starts_on, ends_on, language, stage, created_at, updated_at,"
        " published_at, outcome, rating, lessons, what_worked, what_failed"
    )
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY experiments ({columns}) FROM STDIN") as copy:
            for n in range(N):
                language = rng.choices(["fi", "sv", "en"], [90, 6, 4])[0]
                words = texts[language]
                stage = rng.choices(
                    ["idea", "planning", "running", "evaluated", "discontinued"],
                    [10, 15, 35, 32, 8],
                )[0]
                evaluated = stage in ("evaluated", "discontinued") or (
                    stage == "running" and rng.random() < 0.2
                )
                created = start + timedelta(minutes=n * 30 + rng.randint(0, 29))
                begins = date(2020, 1, 1) + timedelta(days=rng.randint(0, 2400))
                copy.write_row(
                    (
                        uuid.UUID(int=rng.getrandbits(128), version=4),
                        words(rng, rng.randint(3, 8)).capitalize(),
                        words(rng, rng.randint(12, 30)),
                        words(rng, rng.randint(50, 150)),
                        rng.choices(["experiment", "pilot"], [70, 30])[0],
                        rng.choices(["small", "large"], [75, 25])[0],
                        rng.sample(THEMES, rng.randint(1, 3)),
                        rng.sample(MUNICIPALITIES, rng.randint(1, 2)),
                        f"Kunta {rng.randint(1, 300)}",
                        words(rng, rng.randint(15, 40)),
                        words(rng, rng.randint(10, 30)),
                        begins,
                        begins + timedelta(days=rng.randint(30, 700)),
                        language,
                        stage,
                        created,
                        created + timedelta(days=rng.randint(0, 90)),
                        created if rng.random() < 0.95 else None,
                        rng.choice(OUTCOMES) if evaluated else None,
                        rng.randint(1, 10) if evaluated else None,
                        words(rng, rng.randint(10, 40)) if evaluated else None,
                        words(rng, rng.randint(5, 20)) if evaluated else None,
                        words(rng, rng.randint(5, 20)) if evaluated else None,
                    )
                )
        conn.commit()
        conn.autocommit = True
        # The search tables were filled by the triggers during the COPY; vacuuming them also
        # moves the GIN indexes' pending entries into the indexes, as autovacuum would.
        conn.execute("VACUUM ANALYZE experiments, experiment_search, experiment_search_heads")


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float, object]:
    answer = fn()  # warm-up (plans, caches)
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        answer = fn()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]
    return statistics.median(samples), p95, answer


@dataclass(frozen=True)
class Query:
    """One list request as the API makes it: filters, page, the API's default page size."""

    slug: str  # the RESULT line's name: search_p95_<slug>
    name: str
    filters: ExperimentFilters
    page: int = 1
    per_page: int = 20


DEEP = 50  # "page 50": the 981st to 1000th match
QUERIES: list[Query] = [
    Query("kokeilu", "q=kokeilu, relevance", ExperimentFilters(q="kokeilu", sort="relevance")),
    Query("kunta", "q=kunta, relevance", ExperimentFilters(q="kunta", sort="relevance")),
    Query("kunta_newest", "q=kunta, newest", ExperimentFilters(q="kunta", sort="newest")),
    Query("kokeilu_updated", "q=kokeilu, updated", ExperimentFilters(q="kokeilu", sort="updated")),
    Query(
        "kokeilu_page50",
        f"q=kokeilu, relevance, page {DEEP}",
        ExperimentFilters(q="kokeilu", sort="relevance"),
        DEEP,
    ),
    Query(
        "kunta_newest_page50",
        f"q=kunta, newest, page {DEEP}",
        ExperimentFilters(q="kunta", sort="newest"),
        DEEP,
    ),
    Query(
        "kunta_kokeilu",
        "q='kunta kokeilu', relevance",
        ExperimentFilters(q="kunta kokeilu", sort="relevance"),
    ),
    Query(
        "kokeiluja_theme",
        "q=kokeiluja theme=digital-municipality",
        ExperimentFilters(q="kokeiluja", theme="digital-municipality", sort="relevance"),
    ),
    Query(
        "hankinta_failed",
        "q=hankinta outcome=failed",
        ExperimentFilters(q="hankinta", outcome="failed", sort="relevance"),
    ),
    Query(
        "digitaalinen_palvelu_091",
        "q='digitaalinen palvelu' municipality=091",
        ExperimentFilters(q="digitaalinen palvelu", municipality_code="091", sort="relevance"),
    ),
    Query(
        "kirjasto_running",
        "q=kirjasto stage=running, newest",
        ExperimentFilters(q="kirjasto", stage="running", sort="newest"),
    ),
    Query(
        "tekoaly_pilot_procurement",
        "q=tekoäly kind=pilot theme=innovative-procurement",
        ExperimentFilters(
            q="tekoäly", kind="pilot", theme="innovative-procurement", sort="relevance"
        ),
    ),
    Query("forsok", "q=försök (Swedish)", ExperimentFilters(q="försök", sort="relevance")),
    Query(
        "theme_stage",
        "no q: theme + stage, newest",
        ExperimentFilters(theme="employment", stage="evaluated"),
    ),
    Query("newest", "no q, newest", ExperimentFilters()),
    Query("updated_page50", f"no q, updated, page {DEEP}", ExperimentFilters(sort="updated"), DEEP),
]


def main() -> int:
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    server = server.replace("postgresql+psycopg://", "postgresql://")
    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    if os.environ.get("BENCH_REUSE") == "1":  # measure again on the database seeded before
        url = migrated(server.rsplit("/", 1)[0] + "/" + DB_NAME)
    else:
        url = fresh_database(server)
        seed(url)
        print(f"seeded {N:,} experiments in {time.perf_counter() - began:.1f} s ({DB_NAME})")
    db = Database(url.replace("postgresql://", "postgresql+psycopg://"), pool_size=2)
    try:
        with db.transaction() as session:
            some_id = session.scalar(select(Experiment.id).limit(1))
            published = session.scalar(select(func.count()).select_from(ExperimentSearch)) or 1

        def lookup_once(session: Session) -> object:
            return session.get(Experiment, some_id, populate_existing=True)

        lookup, _, _ = timed(functools.partial(_in_session, db, lookup_once), RUNS)
        print(f"{published:,} published; baseline: primary-key lookup p50 {lookup:.2f} ms\n")
        header = (
            f"{'query':<44} {'matches':>8} {'share':>6} {'p50 ms':>7} {'p95 ms':>7} {'xpk':>5}"
            f" {'as plain':>8} | {'counted':>7} {'gain':>5} | {'no GIN p50':>10} {'p95':>7}"
        )
        print(header)
        print("-" * len(header))
        with_index = []
        for query in QUERIES:
            # the lookup beside each query: its xpk holds when the machine's load changes
            pk, _, _ = timed(functools.partial(_in_session, db, lookup_once), RUNS // 4)
            search = functools.partial(
                search_experiments, filters=query.filters, page=query.page, per_page=query.per_page
            )
            p50, p95, answer = timed(functools.partial(_in_session, db, search), RUNS)
            rows, total = cast(tuple[Sequence[Row[Any]], int], answer)
            same = _in_session(db, functools.partial(_as_plain, query, [r.id for r in rows]))
            every = functools.partial(search, exact_up_to=2**62)  # every match counted
            c50, _, _ = timed(functools.partial(_in_session, db, every), RUNS_COUNTED)
            with_index.append((query, p50, p95, total, same, pk, c50))
        without = _without_index(db)
        for (query, p50, p95, total, same, pk, c50), (n50, n95) in zip(
            with_index, without, strict=True
        ):
            print(
                f"{query.name:<44} {total:>8} {total / published:>6.0%} {p50:>7.2f} {p95:>7.2f}"
                f" {p50 / pk:>5.1f} {'same' if same else 'DIFFERS':>8} | {c50:>7.2f}"
                f" {c50 / p50:>4.1f}x | {n50:>10.2f} {n95:>7.2f}"
            )
        print(
            "\nmatches: the total answered (the planner's estimate above 5,000); share: of the"
            " published experiments;\nxpk: p50 in primary-key lookups timed just before;"
            " as plain: the page's ids are those of the plain query\n(every match sorted:"
            " ts_rank over all, OFFSET), run once beside it; counted: p50 with every match"
            " counted\n(exact_up_to unbounded: the query as it was before the estimate), gain:"
            " its p50 over this one's"
        )
        print(f"load average (1 min): {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} now")
        differing = [query.slug for query, _, _, _, same, _, _ in with_index if not same]
        for query, _, p95, *_ in with_index:
            result(f"search_p95_{query.slug}", p95, "ms", "<20")
        result("search_worst_p95", max(p95 for _, _, p95, *_ in with_index), "ms", "<20")
        result("search_pages_differing_from_plain", len(differing), "queries", "<=0")
    finally:
        db.dispose()
    return 0


def _in_session(db: Database, fn: Callable[[Session], object]) -> object:
    with db.transaction() as session:
        return fn(session)


def _as_plain(query: Query, shown: list[uuid.UUID], session: Session) -> bool:
    """Whether the page shows what sorting every match the plain way (all_matching) shows."""
    statement = all_matching(query.filters).with_only_columns(Experiment.id)
    offset = (query.page - 1) * query.per_page
    plain = session.scalars(statement.offset(offset).limit(query.per_page)).all()
    return list(plain) == shown


def _without_index(db: Database) -> list[tuple[float, float]]:
    """The same queries with the GIN search index dropped in a transaction rolled back after."""
    figures = []
    with db.engine.connect() as conn:
        transaction = conn.begin()
        conn.execute(text("DROP INDEX ix_experiment_search_match"))
        session = Session(bind=conn)
        for query in QUERIES:
            search = functools.partial(
                search_experiments, session, query.filters, query.page, query.per_page
            )
            p50, p95, _ = timed(search, RUNS_WITHOUT_INDEX)
            figures.append((p50, p95))
        session.close()
        transaction.rollback()
    return figures


if __name__ == "__main__":
    sys.exit(main())
