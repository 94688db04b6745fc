"""Numbers follow Binance's grammar, ^([0-9]{1,20})(\\.[0-9]{1,20})?$, in the API and on the desk's form alike."""

from decimal import Decimal

import pytest
from rest_framework.exceptions import ValidationError

from papertrading.api.fields import BinanceDecimalField
from papertrading.forms import OrderForm
from papertrading.models import OrderEvent, PaperOrder
from papertrading.money import NOT_A_NUMBER, parse_amount
from papertrading.tests.support import LIMIT_BUY, ORDERS_URL, balances

TOO_PRECISE = "Too much precision: at most 8 decimal places."
TOO_LONG = "Too many digits: at most 20 before the decimal point and 20 after it."

# Spellings Python's Decimal (and so DRF's and Django's DecimalField) takes or words differently, and Binance refuses.
REFUSED = [
    pytest.param("١٠", NOT_A_NUMBER, id="arabic-indic-digits"),
    pytest.param("０.０１", NOT_A_NUMBER, id="full-width-digits"),
    pytest.param("1_000", NOT_A_NUMBER, id="underscore"),
    pytest.param("1e-2", NOT_A_NUMBER, id="exponent"),
    pytest.param("1E3", NOT_A_NUMBER, id="upper-exponent"),
    pytest.param("+0.01", NOT_A_NUMBER, id="plus-sign"),
    pytest.param(" 0.01", NOT_A_NUMBER, id="leading-space"),
    pytest.param("0.01 ", NOT_A_NUMBER, id="trailing-space"),
    pytest.param("0.01\n", NOT_A_NUMBER, id="trailing-newline"),
    pytest.param("NaN", NOT_A_NUMBER, id="nan"),
    pytest.param("Infinity", NOT_A_NUMBER, id="infinity"),
    pytest.param(".01", NOT_A_NUMBER, id="leading-dot"),
    pytest.param("1.", NOT_A_NUMBER, id="trailing-dot"),
    pytest.param("0,01", NOT_A_NUMBER, id="comma"),
    pytest.param("0.010000001", TOO_PRECISE, id="non-zero-ninth-decimal"),
    pytest.param("1" + "0" * 20, TOO_LONG, id="twenty-one-digits"),
]
# Trailing zeros past the 8th decimal are still the same number.
ACCEPTED = [
    pytest.param("0.010000000000", id="twelve-decimals-of-zeros"),
    pytest.param("0.01000000000000000000", id="twenty-decimals"),
]


def form_with(**fields) -> OrderForm:
    return OrderForm({**LIMIT_BUY, **fields})


# --- the grammar -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_parse_amount_refuses_what_binance_refuses(text, message):
    with pytest.raises(ValueError) as caught:
        parse_amount(text)
    assert str(caught.value) == message


def test_parse_amount_drops_zeros_past_the_eighth_decimal():
    assert parse_amount("0.001000000000") == Decimal("0.001")
    assert parse_amount("68000") == Decimal("68000")
    assert parse_amount("007.50") == Decimal("7.5")


# --- the API ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), REFUSED)
@pytest.mark.django_db
def test_api_refuses_quantity_outside_binance_grammar(api, account, market, text, message):
    before = balances(account)
    response = api.post(ORDERS_URL, {**LIMIT_BUY, "quantity": text}, format="json")

    assert response.status_code == 400, response.content
    assert response.json() == {"quantity": [message]}
    assert PaperOrder.objects.count() == 0
    assert OrderEvent.objects.count() == 0
    assert balances(account) == before


@pytest.mark.django_db
def test_api_refuses_a_price_outside_binance_grammar_on_price(api, market):
    response = api.post(ORDERS_URL, {**LIMIT_BUY, "price": "６７０００"}, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {"price": [NOT_A_NUMBER]}
    assert PaperOrder.objects.count() == 0


@pytest.mark.parametrize("text", ACCEPTED)
@pytest.mark.django_db
def test_api_accepts_zeros_past_the_eighth_decimal(api, market, text):
    response = api.post(ORDERS_URL, {**LIMIT_BUY, "quantity": text}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["quantity"] == "0.01000000"
    assert PaperOrder.objects.get().quantity == Decimal("0.01")


@pytest.mark.django_db
def test_api_takes_json_numbers_whose_text_fits_the_grammar(api, market):
    # A JSON number arrives parsed (a float); 0.01 reads back as "0.01", 0.000000001 as nine decimals.
    response = api.post(ORDERS_URL, {**LIMIT_BUY, "quantity": 0.01, "price": 67000}, format="json")
    assert response.status_code == 201, response.json()
    assert PaperOrder.objects.get().price == Decimal("67000")

    response = api.post(ORDERS_URL, {**LIMIT_BUY, "quantity": 0.000000001}, format="json")
    assert response.status_code == 400
    assert response.json() == {"quantity": [TOO_PRECISE]}
    response = api.post(ORDERS_URL, {**LIMIT_BUY, "quantity": True}, format="json")
    assert response.status_code == 400
    assert response.json() == {"quantity": [NOT_A_NUMBER]}
    assert PaperOrder.objects.count() == 1


def test_json_float_is_read_without_its_exponent():
    field = BinanceDecimalField(max_digits=28, decimal_places=8)
    # Python writes 0.00001 as 1e-05; its digits are what the client sent.
    assert field.run_validation(0.00001) == Decimal("0.00001")
    assert field.run_validation(12) == Decimal("12")
    for value, message in ((float("nan"), NOT_A_NUMBER), (float("inf"), NOT_A_NUMBER), (-0.5, "Must be greater")):
        with pytest.raises(ValidationError) as caught:
            field.run_validation(value)
        assert str(caught.value.detail[0]).startswith(message)


# --- the desk's form -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"), [*REFUSED, pytest.param("-0.01", "Must be greater than zero.", id="minus")]
)
@pytest.mark.django_db
def test_form_refuses_the_same_spellings(text, message):
    form = form_with(quantity=text)
    assert not form.is_valid()
    assert form.errors["quantity"] == [message]


@pytest.mark.parametrize("text", ACCEPTED)
@pytest.mark.django_db
def test_form_accepts_zeros_past_the_eighth_decimal(text):
    form = form_with(quantity=text)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["quantity"] == Decimal("0.01")
