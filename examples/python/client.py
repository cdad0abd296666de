#!/usr/bin/env python3
"""Example warta client (grpcio): health, reflection, Classify, ClassifyBatch,
ClassifyStream, Extract and a rich INVALID_ARGUMENT error.

It generates nothing itself: it imports the stubs that

    python -m grpc_tools.protoc -I proto --python_out=STUBS --grpc_python_out=STUBS \
        proto/warta/v1/article.proto

wrote into STUBS (`--stubs`, default: the directory of this file). `run.sh` does all of it.

Every step checks what it got; the exit status is 1 if any check failed, so CI catches
regressions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

import grpc
from google.rpc import code_pb2, error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status

SERVICE = "warta.v1.ArticleService"
TIMEOUT_S = 10.0

# Short Indonesian articles written for this example.
MIGRATION = (
    "Ribuan migran dari Amerika Tengah menunggu di kota perbatasan Tijuana. Petugas imigrasi "
    "Amerika Serikat memproses permohonan suaka mereka satu per satu. Banyak keluarga tidur di "
    "tenda darurat sambil berharap bisa menyeberang secara legal ke Amerika Serikat."
)
CARTEL = (
    "Aparat Meksiko menyita dua ton kokain dari gudang milik kartel narkoba di Sinaloa. Polisi "
    "menangkap tiga tersangka yang diduga mengatur penyelundupan narkoba ke Amerika Serikat "
    "melalui terowongan di bawah perbatasan."
)
DIPLOMACY = (
    "Menteri luar negeri kedua negara menandatangani nota kesepahaman tentang kerja sama "
    "keamanan perbatasan. Pertemuan bilateral itu juga membahas kunjungan kenegaraan presiden "
    "dan pembukaan kembali konsulat."
)
STREAM_ARTICLES = [
    ("s1", MIGRATION),
    (
        "s2",
        "Polisi membongkar jaringan perdagangan orang yang menjanjikan pekerjaan palsu kepada "
        "perempuan muda. Para korban dipaksa bekerja tanpa upah dan paspor mereka ditahan oleh "
        "penyalur.",
    ),
    (
        "s3",
        "Kementerian Kesehatan mencatat lonjakan kasus demam berdarah di sejumlah provinsi. Rumah "
        "sakit menambah tempat tidur dan petugas melakukan pengasapan untuk membasmi nyamuk.",
    ),
    (
        "s4",
        "Nilai ekspor minyak sawit naik tajam setelah kedua negara sepakat menurunkan tarif impor. "
        "Para pengusaha berharap perjanjian dagang itu memperluas pasar dan menambah devisa.",
    ),
    ("s5", CARTEL),
]
EXTRACT_TEXT = (
    "JAKARTA – Menteri Luar Negeri AS Antony J. Blinken bertemu Presiden Meksiko Andrés Manuel "
    "López Obrador di Mexico City pada Selasa (8/6). Keduanya membahas sekitar 250.000 migran yang "
    "tiba di perbatasan selatan Amerika Serikat tahun ini. Organisasi Internasional untuk Migrasi "
    "(IOM) mencatat jumlah itu naik 30 persen."
)


class Checks:
    """Collects failed expectations instead of stopping at the first one."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def expect(self, ok: bool, what: str) -> bool:
        if not ok:
            self.failures.append(what)
            print(f"  FAIL: {what}")
        return ok

    def step(self, title: str, fn, *args) -> None:
        print(f"\n== {title}")
        try:
            fn(self, *args)
        except grpc.RpcError as e:  # an RPC that should have succeeded
            self.expect(False, f"{title}: RPC failed: {e.code().name}: {e.details()}")
        except Exception as e:  # a bug in the example or an unexpected reply
            traceback.print_exc()
            self.expect(False, f"{title}: {type(e).__name__}: {e}")


def check_labels(checks: Checks, where: str, labels) -> None:
    scores = [l.score for l in labels]
    checks.expect(len(labels) > 0, f"{where}: no labels")
    checks.expect(all(0.0 < s <= 1.0 for s in scores), f"{where}: score outside (0, 1]: {scores}")
    checks.expect(
        all(a >= b for a, b in zip(scores, scores[1:])), f"{where}: scores not descending: {scores}"
    )


def fmt_labels(labels) -> str:
    return ", ".join(f"{l.label} {l.score:.3f}" for l in labels)


def health(checks: Checks, channel: grpc.Channel, wait_s: float) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE):
        # The server reports NOT_SERVING for a moment while it loads its model: poll briefly.
        deadline = time.monotonic() + wait_s
        while True:
            status = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_S).status
            if status == health_pb2.HealthCheckResponse.SERVING or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
        print(f"  {service or '(server)'!s:<24} {name}")
        checks.expect(status == health_pb2.HealthCheckResponse.SERVING, f"health {service!r}: {name}")


def reflection(checks: Checks, channel: grpc.Channel) -> None:
    services = sorted(ProtoReflectionDescriptorDatabase(channel).get_services())
    for s in services:
        print(f"  {s}")
    checks.expect(SERVICE in services, f"reflection does not list {SERVICE}")


def classify(checks: Checks, pb, stub, md) -> None:
    req = pb.ClassifyRequest(article=pb.Article(id="a1", text=MIGRATION, language="id"), top_k=3)
    r = stub.Classify(req, metadata=md, timeout=TIMEOUT_S)
    print(f"  id={r.id} model_version={r.model_version}")
    print(f"  labels: {fmt_labels(r.labels)}")
    check_labels(checks, "Classify", r.labels)
    checks.expect(r.id == "a1", f"Classify: id not echoed ({r.id!r})")


def classify_batch(checks: Checks, pb, stub, md) -> None:
    articles = [
        pb.Article(id="b1", text=CARTEL),
        pb.Article(id="b2", text=""),  # empty on purpose: this one gets an error of its own
        pb.Article(id="b3", text=DIPLOMACY),
    ]
    r = stub.ClassifyBatch(pb.ClassifyBatchRequest(articles=articles, top_k=2), metadata=md, timeout=TIMEOUT_S)
    print(f"  model_version={r.model_version} results={len(r.results)}")
    for res in r.results:
        if res.HasField("error"):
            e = res.error
            print(f"  {res.id}: error {code_pb2.Code.Name(e.code)} field={e.field!r}: {e.message}")
        else:
            print(f"  {res.id}: {fmt_labels(res.labels)}")
            check_labels(checks, f"ClassifyBatch {res.id}", res.labels)
    checks.expect([x.id for x in r.results] == ["b1", "b2", "b3"], "ClassifyBatch: results not 3 in order")
    errors = [x for x in r.results if x.HasField("error")]
    checks.expect(len(errors) == 1, f"ClassifyBatch: {len(errors)} errors, expected exactly 1")
    if errors:
        checks.expect(
            errors[0].id == "b2" and errors[0].error.code == code_pb2.INVALID_ARGUMENT,
            "ClassifyBatch: the empty article should carry INVALID_ARGUMENT",
        )


def classify_stream(checks: Checks, pb, stub, md) -> None:
    def requests():
        for id_, text in STREAM_ARTICLES:
            yield pb.ClassifyRequest(article=pb.Article(id=id_, text=text), top_k=1)

    got = []
    for r in stub.ClassifyStream(requests(), metadata=md, timeout=TIMEOUT_S):
        got.append(r.id)
        if r.HasField("error"):
            print(f"  {r.id}: error {code_pb2.Code.Name(r.error.code)}: {r.error.message}")
        else:
            print(f"  {r.id}: {fmt_labels(r.labels)}")
            check_labels(checks, f"ClassifyStream {r.id}", r.labels)
    want = [id_ for id_, _ in STREAM_ARTICLES]
    checks.expect(got == want, f"ClassifyStream: got {got}, expected {want}")


def extract(checks: Checks, pb, stub, md) -> None:
    r = stub.Extract(pb.ExtractRequest(article=pb.Article(id="e1", text=EXTRACT_TEXT)), metadata=md, timeout=TIMEOUT_S)
    print(f"  dateline: {r.dateline!r}")
    print("  entities:")
    for e in r.entities:
        print(f"    {e.kind:<13} {e.text!r} [{e.start},{e.end}) via {e.source}")
    print("  dates:")
    for d in r.dates:
        print(f"    {d.text!r} -> {d.normalized or '?'}")
    print("  quantities:")
    for q in r.quantities:
        print(f"    {q.text!r} = {q.value:g} {q.unit}".rstrip())
    print(f"  keywords: {', '.join(k.term for k in r.keywords[:5])}")
    kinds = {e.kind for e in r.entities}
    checks.expect("PERSON" in kinds, "Extract: no PERSON entity")
    checks.expect("LOCATION" in kinds, "Extract: no LOCATION entity")


def empty_classify(checks: Checks, pb, stub, md) -> None:
    try:
        stub.Classify(pb.ClassifyRequest(article=pb.Article(id="x", text="")), metadata=md, timeout=TIMEOUT_S)
    except grpc.RpcError as e:
        print(f"  status: {e.code().name} ({e.code().value[0]}): {e.details()}")
        checks.expect(e.code() == grpc.StatusCode.INVALID_ARGUMENT, f"empty Classify gave {e.code().name}")
        status = rpc_status.from_call(e)  # decodes the grpc-status-details-bin trailer
        if status is None:
            print("  (no google.rpc.Status details)")
            return
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                for v in bad.field_violations:
                    print(f"  BadRequest violation: field={v.field!r} description={v.description!r}")
            else:
                print(f"  detail: {detail.type_url}")
        return
    checks.expect(False, "empty Classify succeeded; expected INVALID_ARGUMENT")


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--addr", default="127.0.0.1:50051", help="server host:port (default %(default)s)")
    ap.add_argument(
        "--token",
        default=os.environ.get("WARTA_API_TOKEN"),
        help="bearer token for ArticleService calls (default: $WARTA_API_TOKEN)",
    )
    ap.add_argument("--stubs", default=here, help="directory holding the generated warta/v1/*_pb2*.py")
    ap.add_argument("--wait", type=float, default=10.0, help="seconds to wait for SERVING (default %(default)s)")
    args = ap.parse_args()

    sys.path.insert(0, os.path.abspath(args.stubs))
    try:
        from warta.v1 import article_pb2 as pb, article_pb2_grpc as rpc
    except ImportError as e:
        print(f"cannot import the generated stubs from {args.stubs}: {e}", file=sys.stderr)
        print("generate them with python -m grpc_tools.protoc (see run.sh)", file=sys.stderr)
        return 2

    md = [("authorization", f"Bearer {args.token}")] if args.token else []
    checks = Checks()
    with grpc.insecure_channel(args.addr) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=args.wait)
        except grpc.FutureTimeoutError:
            print(f"cannot connect to {args.addr} within {args.wait:g} s", file=sys.stderr)
            return 1
        stub = rpc.ArticleServiceStub(channel)
        checks.step("1. health (grpc.health.v1.Health/Check)", health, channel, args.wait)
        checks.step("2. services (server reflection)", reflection, channel)
        checks.step("3. Classify", classify, pb, stub, md)
        checks.step("4. ClassifyBatch (3 articles, the 2nd empty)", classify_batch, pb, stub, md)
        checks.step("5. ClassifyStream (bidi, 5 articles)", classify_stream, pb, stub, md)
        checks.step("6. Extract", extract, pb, stub, md)
        checks.step("7. Classify with empty text (expect INVALID_ARGUMENT)", empty_classify, pb, stub, md)

    if checks.failures:
        print(f"\nFAILED: {len(checks.failures)} check(s)")
        for f in checks.failures:
            print(f"  - {f}")
        return 1
    print("\nOK: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
