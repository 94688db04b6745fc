"""Signing vectors from shared/binance/REFERENCE.md §2.3, reproduced byte for byte."""

import base64
from urllib.parse import parse_qsl, unquote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from papertrading.binance.signing import build_signed_query, sign_payload

HMAC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
PAYLOAD_A = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
SIGNATURE_A = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
PAYLOAD_B = (
    "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC"
    "&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
SIGNATURE_B = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
PAYLOAD_D = "timestamp=1578963600000"
SIGNATURE_D = "d84e6641b1e328e7b418fff030caed655c266299c9355e36ce801ed14631eed4"

# Throw-away key published in Binance's FIX API docs (not a real credential).
ED25519_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9Dvy+qa8WEf0lQOl1s4CLIAB9m89u\n"
    "-----END PRIVATE KEY-----\n"
)
ED25519_PUBLIC = "MCowBQYDK2VwAyEAGUIKv9dSpWXBViXp2m6vAIb8QMFJYBgyFEQsFJlqgA0="
ED25519_REST_PAYLOAD = (
    "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2&timestamp=1668481559918&recvWindow=5000"
)
ED25519_REST_SIGNATURE = "inDT086KVIP8vgUfw5sV3VTkescWztiAGlf4x8FLKHM4NInsn0c1kYVLoGMO8cyjfR6vmTku2YQE0gtfVVlfCw=="
ED25519_FIX_SIGNATURE = "4MHXelVVcpkdwuLbl6n73HQUXUf1dse2PCgT1DYqW9w8AVZ1RACFGM+5UdlGPrQHrgtS3CvsRURC1oj73j8gCA=="

PARAMS_A = [
    ("symbol", "LTCBTC"),
    ("side", "BUY"),
    ("type", "LIMIT"),
    ("timeInForce", "GTC"),
    ("quantity", "1"),
    ("price", "0.1"),
    ("recvWindow", "5000"),
    ("timestamp", "1499827319559"),
]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(PAYLOAD_A, SIGNATURE_A), (PAYLOAD_B, SIGNATURE_B), (PAYLOAD_D, SIGNATURE_D)],
    ids=["A", "B-non-ascii", "D"],
)
def test_hmac_signature_matches_reference_vector(payload, expected):
    assert sign_payload(payload, HMAC_SECRET) == expected


def test_build_signed_query_reproduces_vector_a_and_appends_signature_last():
    query = build_signed_query(PARAMS_A, HMAC_SECRET)
    assert query == f"{PAYLOAD_A}&signature={SIGNATURE_A}"


def test_build_signed_query_percent_encodes_non_ascii_symbol_before_signing():
    params = [("symbol", "１２３４５６"), *PARAMS_A[1:]]
    assert build_signed_query(params, HMAC_SECRET) == f"{PAYLOAD_B}&signature={SIGNATURE_B}"


def test_ed25519_signature_matches_rest_style_regression_vector():
    assert sign_payload(ED25519_REST_PAYLOAD, ED25519_PEM) == ED25519_REST_SIGNATURE


def test_ed25519_signature_matches_published_fix_logon_vector():
    payload = "\x01".join(["A", "EXAMPLE", "SPOT", "1", "20240627-11:17:25.223"])
    assert sign_payload(payload, ED25519_PEM) == ED25519_FIX_SIGNATURE


def test_ed25519_pem_with_escaped_newlines_from_env_file_still_signs():
    one_line = ED25519_PEM.strip().replace("\n", "\\n")
    assert sign_payload(ED25519_REST_PAYLOAD, one_line) == ED25519_REST_SIGNATURE


def test_ed25519_published_key_derives_documented_public_key():
    key = serialization.load_pem_private_key(ED25519_PEM.encode(), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert base64.b64encode(der).decode() == ED25519_PUBLIC


def test_fresh_ed25519_key_signature_verifies_with_its_public_key_and_is_percent_encoded_in_query():
    private_key = ed25519.Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    params = [("symbol", "BTCUSDT"), ("side", "BUY"), ("timestamp", "1752998400000")]

    query = build_signed_query(params, pem)

    payload, _, encoded_signature = query.rpartition("&signature=")
    assert payload == "symbol=BTCUSDT&side=BUY&timestamp=1752998400000"
    # base64 characters "+", "/", "=" must travel percent-encoded.
    assert not set("+/=") & set(encoded_signature)
    signature = base64.b64decode(unquote(encoded_signature))
    assert len(unquote(encoded_signature)) == 88
    private_key.public_key().verify(signature, payload.encode())  # raises InvalidSignature on mismatch
    assert dict(parse_qsl(query))["signature"] == unquote(encoded_signature)
