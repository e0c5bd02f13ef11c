"""Every answer of the embedded services parses in botocore: an operation moto lacks, or one
it crashes on, is an AWS error in the service's own protocol; IAM's simulator says allowed."""

from __future__ import annotations

import gzip
import importlib.util
import json

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smlocal.emulator.embedded.errors import (
    Call,
    EmbeddedError,
    cbor_text_map,
    classify,
    is_shaped,
    render,
)

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})  # InternalFailure is retried by default


def client(smlocal, service):
    return smlocal.client(service, config=ONE_ATTEMPT)


def error_of(call) -> dict:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response


def test_cloudformation_operation_moto_lacks_is_a_query_error(smlocal):
    """CloudFormation speaks the query protocol: <ErrorResponse><Error><Code>."""
    cloudformation = client(smlocal, "cloudformation")
    answer = error_of(lambda: cloudformation.estimate_template_cost(TemplateBody="{}"))
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert answer["Error"]["Code"] == "NotImplemented"
    assert answer["Error"]["Type"] == "Receiver"
    assert answer["Error"]["Message"].startswith(
        "smlocal does not emulate cloudformation EstimateTemplateCost"
    )


def test_cloudformation_create_stack_without_motos_extras_is_not_implemented(smlocal):
    """smlocal installs moto[s3]: moto's CloudFormation cannot be imported (it needs
    openapi_spec_validator), so even CreateStack is an operation smlocal does not emulate."""
    if importlib.util.find_spec("openapi_spec_validator") is not None:
        pytest.skip("moto's CloudFormation extras are installed here: CreateStack works")
    cloudformation = client(smlocal, "cloudformation")
    answer = error_of(
        lambda: cloudformation.create_stack(StackName="s", TemplateBody='{"Resources": {}}')
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert answer["Error"]["Code"] == "NotImplemented"
    assert answer["Error"]["Message"] == (
        "smlocal does not emulate cloudformation CreateStack (its embedded moto cannot load "
        "the service: ModuleNotFoundError: No module named 'openapi_spec_validator')"
    )


def test_a_crash_inside_moto_is_internal_failure_in_the_query_shape(smlocal):
    """STS AssumeRole with a DurationSeconds moto cannot read: moto raises ValueError."""
    sts = client(smlocal, "sts")

    def corrupt(request, **_):
        request.body = request.body.replace("DurationSeconds=900", "DurationSeconds=abc")

    sts.meta.events.register("before-send.sts.AssumeRole", corrupt)
    answer = error_of(
        lambda: sts.assume_role(
            RoleArn="arn:aws:iam::123456789012:role/some-role",
            RoleSessionName="session",
            DurationSeconds=900,
        )
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert answer["Error"]["Code"] == "InternalFailure"
    assert answer["Error"]["Type"] == "Receiver"
    message = answer["Error"]["Message"]
    assert message.startswith("smlocal's embedded moto failed on sts AssumeRole (ValueError:")
    assert message.endswith("smlocal does not emulate this request")


def test_json_protocol_operation_moto_lacks(smlocal):
    logs = client(smlocal, "logs")
    arn = "arn:aws:logs:us-east-1:123456789012:anomaly-detector:abc"
    answer = error_of(lambda: logs.get_log_anomaly_detector(anomalyDetectorArn=arn))
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "NotImplemented"
    assert answer["Error"] == {
        "Code": "NotImplemented",
        "Message": "smlocal does not emulate logs GetLogAnomalyDetector",
    }


def test_cloudwatch_operation_moto_lacks(smlocal):
    """CloudWatch's protocol is whatever botocore picked (JSON 1.0, CBOR or query)."""
    cloudwatch = client(smlocal, "cloudwatch")
    answer = error_of(
        lambda: cloudwatch.get_insight_rule_report(
            RuleName="rule", StartTime=0, EndTime=60, Period=60
        )
    )
    assert answer["Error"]["Code"] == "NotImplemented"
    assert answer["Error"]["Message"] == (
        "smlocal does not emulate cloudwatch GetInsightRuleReport"
    )


def test_ec2_operation_moto_lacks_is_an_ec2_error(smlocal):
    ec2 = client(smlocal, "ec2")
    answer = error_of(ec2.describe_capacity_block_extension_history)
    assert answer["Error"]["Code"] == "NotImplemented"
    assert "ec2 DescribeCapacityBlockExtensionHistory" in answer["Error"]["Message"]


def test_rest_json_path_moto_has_no_route_for(smlocal):
    """Flask's HTML 404 becomes a REST-JSON error with x-amzn-ErrorType."""
    lambda_ = client(smlocal, "lambda")
    answer = error_of(lambda: lambda_.get_runtime_management_config(FunctionName="f"))
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert answer["Error"]["Code"] == "NotImplemented"
    assert answer["Error"]["Message"].startswith(
        "smlocal does not emulate lambda GET /2021-07-20/functions/f/runtime-management-config"
    )


def test_modeled_moto_errors_pass_through(smlocal):
    iam = client(smlocal, "iam")
    answer = error_of(lambda: iam.get_role(RoleName="no-such-role"))
    assert answer["Error"]["Code"] == "NoSuchEntity"
    s3 = client(smlocal, "s3")
    answer = error_of(lambda: s3.get_object(Bucket="no-such-bucket-here", Key="k"))
    assert answer["Error"]["Code"] == "NoSuchBucket"


# ---- IAM's policy simulator -------------------------------------------------------------


def test_simulate_principal_policy_allows_every_action(smlocal):
    iam = client(smlocal, "iam")
    answer = iam.simulate_principal_policy(
        PolicySourceArn="arn:aws:iam::123456789012:role/not-created-locally",
        ActionNames=["s3:GetObject", "sagemaker:CreateEndpoint"],
    )
    assert answer["IsTruncated"] is False
    assert [
        (r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"])
        for r in answer["EvaluationResults"]
    ] == [("s3:GetObject", "*", "allowed"), ("sagemaker:CreateEndpoint", "*", "allowed")]
    assert answer["EvaluationResults"][0]["MatchedStatements"] == []


def test_simulate_custom_policy_pages_per_action_and_resource(smlocal):
    iam = client(smlocal, "iam")
    request = {
        "PolicyInputList": [json.dumps({"Version": "2012-10-17", "Statement": []})],
        "ActionNames": ["s3:GetObject", "s3:PutObject"],
        "ResourceArns": ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"],
    }
    first = iam.simulate_custom_policy(**request, MaxItems=3)
    assert first["IsTruncated"] is True
    rest = iam.simulate_custom_policy(**request, MaxItems=3, Marker=first["Marker"])
    assert rest["IsTruncated"] is False
    pairs = [
        (r["EvalActionName"], r["EvalResourceName"])
        for r in first["EvaluationResults"] + rest["EvaluationResults"]
    ]
    assert pairs == [
        ("s3:GetObject", "arn:aws:s3:::a/*"),
        ("s3:GetObject", "arn:aws:s3:::b/*"),
        ("s3:PutObject", "arn:aws:s3:::a/*"),
        ("s3:PutObject", "arn:aws:s3:::b/*"),
    ]
    assert {r["EvalDecision"] for r in first["EvaluationResults"]} == {"allowed"}
    paginator = iam.get_paginator("simulate_custom_policy")
    pages = list(paginator.paginate(**request, PaginationConfig={"PageSize": 1}))
    assert len(pages) == 4


def test_simulate_without_action_names_is_a_validation_error(smlocal):
    iam = client(smlocal, "iam")

    def drop_actions(request, **_):  # a parameter IAM does not know, of the same length
        request.body = request.body.replace("ActionNames.member.1=", "ActionNamez.member.1=")

    iam.meta.events.register("before-send.iam.SimulatePrincipalPolicy", drop_actions)
    answer = error_of(
        lambda: iam.simulate_principal_policy(
            PolicySourceArn="arn:aws:iam::123456789012:role/r", ActionNames=["s3:GetObject"]
        )
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["Error"]["Code"] == "ValidationError"
    assert "'actionNames'" in answer["Error"]["Message"]


# ---- the pieces, without a server ---------------------------------------------------------


def test_classify_reads_the_protocol_from_the_request():
    auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{}/aws4_request, Signed..."
    json_call = {"HTTP_X_AMZ_TARGET": "Logs_20140328.PutLogEvents",
                 "HTTP_AUTHORIZATION": auth.format("logs")}  # fmt: skip
    assert classify(json_call, {}) == Call("json", "logs", "PutLogEvents")
    query = {"HTTP_AUTHORIZATION": auth.format("iam")}
    assert classify(query, {"Action": ["GetRole"]}) == Call("query", "iam", "GetRole",
                                                            by_action=True)  # fmt: skip
    assert classify(query, {}).protocol == "query"  # no Action: still IAM's protocol
    unsigned = {"Action": ["AssumeRoleWithSAML"], "Version": ["2011-06-15"]}
    assert classify({}, unsigned).service == "sts"
    cognito = {"HTTP_X_AMZ_TARGET": "AWSCognitoIdentityService.GetId"}
    assert classify(cognito, {}).service == "cognito-identity"
    assert classify({"HTTP_AUTHORIZATION": auth.format("ec2")}, {"Action": ["X"]}).protocol == "ec2"
    rest = {"HTTP_AUTHORIZATION": auth.format("lambda"), "REQUEST_METHOD": "GET",
            "PATH_INFO": "/2015-03-31/functions"}  # fmt: skip
    assert classify(rest, {}) == Call("rest-json", "lambda", "GET /2015-03-31/functions")
    assert classify({"PATH_INFO": "/bucket/key"}, {}).protocol == "rest-xml"
    cbor = {"HTTP_SMITHY_PROTOCOL": "rpc-v2-cbor", "PATH_INFO": "/service/X/operation/PutData"}
    assert classify(cbor, {}).operation == "PutData"


def test_html_and_text_are_not_error_shapes():
    rest_json, s3 = Call("rest-json", "lambda", "GET /"), Call("rest-xml", "s3", "GET /")
    assert not is_shaped(rest_json, 404, [], b"<!doctype html><title>404 Not Found</title>")
    assert not is_shaped(s3, 500, [], b"internal error")
    assert is_shaped(s3, 404, [], b"")  # HEAD answers carry no body
    assert is_shaped(s3, 404, [], b"<Error><Code>NoSuchKey</Code></Error>")
    assert is_shaped(rest_json, 400, [], b'{"message": "bad"}')


def test_cbor_error_body_is_a_text_map():
    assert cbor_text_map({"a": "b"}) == bytes([0xA1, 0x61]) + b"a" + bytes([0x61]) + b"b"
    long = "x" * 300
    assert cbor_text_map({"m": long})[3:6] == bytes([0x79, 0x01, 0x2C])
    status, headers, _ = render(
        Call("rpc-v2-cbor", "monitoring", "Op"), EmbeddedError(501, "NotImplemented", "no"), "r"
    )
    assert status == 501
    assert ("smithy-protocol", "rpc-v2-cbor") in headers


def test_s3_request_moto_cannot_handle_is_an_s3_error(smlocal):
    """REST-XML S3: <Error><Code>NotImplemented</Code>, with x-amz-request-id."""
    s3 = client(smlocal, "s3")
    s3.create_bucket(Bucket="embedded-errors")

    def patch(request, **_):  # a method moto's S3 has no branch for
        request.method = "PATCH"

    s3.meta.events.register("before-send.s3.GetObject", patch)
    answer = error_of(lambda: s3.get_object(Bucket="embedded-errors", Key="k"))
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    assert answer["Error"] == {
        "Code": "NotImplemented",
        "Message": "smlocal does not emulate s3 PATCH /embedded-errors/k",
    }


@pytest.mark.parametrize(
    ("protocol", "parser_name", "service"),
    [
        ("json", "json", "logs"),
        ("rest-json", "rest-json", "lambda"),
        ("rpc-v2-cbor", "smithy-rpc-v2-cbor", "monitoring"),
        ("query", "query", "iam"),
        ("ec2", "ec2", "ec2"),
        ("rest-xml", "rest-xml", "s3"),
        ("rest-xml", "rest-xml", "route53"),
    ],
)
def test_every_shape_parses_in_botocores_own_parser(protocol, parser_name, service):
    from botocore.parsers import create_parser

    error = EmbeddedError(501, "NotImplemented", "smlocal does not emulate <it> & more")
    status, headers, body = render(Call(protocol, service, "Op"), error, "request-1")
    parsed = create_parser(parser_name).parse(
        {"status_code": status, "headers": {k.lower(): v for k, v in headers}, "body": body},
        None,
    )
    assert parsed["Error"]["Code"] == "NotImplemented"
    assert parsed["Error"]["Message"] == "smlocal does not emulate <it> & more"
    assert parsed["ResponseMetadata"]["RequestId"] == "request-1"


# ---- requests moto cannot read: the client's fault, 400 (botocore does not retry them) ----


def corrupt_body(client_, event, body):
    def replace(request, **_):
        request.body = body
        request.headers["Content-Length"] = str(len(body))

    client_.meta.events.register(f"before-send.{event}", replace)


def test_json_body_that_does_not_parse_is_a_serialization_exception(smlocal):
    kms = client(smlocal, "kms")
    corrupt_body(kms, "kms.ListKeys", b"{not json")
    answer = error_of(kms.list_keys)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["Error"]["Code"] == "SerializationException"
    assert answer["Error"]["Message"].startswith(
        "smlocal could not read the request to kms ListKeys: Expecting property name"
    )


def test_json_body_that_is_not_an_object_is_a_serialization_exception(smlocal):
    dynamodb = client(smlocal, "dynamodb")
    corrupt_body(dynamodb, "dynamodb.ListTables", b"[]")
    answer = error_of(dynamodb.list_tables)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["Error"] == {
        "Code": "SerializationException",
        "Message": "smlocal could not read the request to dynamodb ListTables: "
        "the body is a JSON list, not an object",
    }


def test_cbor_body_that_does_not_parse_is_a_serialization_exception(smlocal):
    """Sent by hand: botocore may prefer CloudWatch's JSON protocol over its CBOR one."""
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.parsers import create_parser

    url = f"{smlocal.url}/service/GraniteServiceVersion20100801/operation/ListMetrics"
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    request = AWSRequest("POST", url, data=bytes([0xBF, 0x7F, 0xFF, 0x1C]), headers=headers)
    SigV4Auth(Credentials("testing", "testing"), "monitoring", "us-east-1").add_auth(request)
    prepared = request.prepare()
    sent = urllib.request.Request(url, prepared.body, dict(prepared.headers), method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(sent, timeout=30)
    answer = raised.value
    parsed = create_parser("smithy-rpc-v2-cbor").parse(
        {"status_code": answer.code, "headers": dict(answer.headers), "body": answer.read()},
        None,
    )
    assert answer.code == 400
    assert parsed["Error"]["Code"] == "SerializationException"
    assert parsed["Error"]["Message"].startswith(
        "smlocal could not read the request to cloudwatch ListMetrics: RequestParserError:"
    )


def test_s3_xml_that_does_not_parse_is_malformed_xml(smlocal):
    s3 = client(smlocal, "s3")
    s3.create_bucket(Bucket="malformed-xml")
    corrupt_body(s3, "s3.PutBucketTagging", b"<Tagging><TagSet><Tag>")
    answer = error_of(
        lambda: s3.put_bucket_tagging(
            Bucket="malformed-xml", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        )
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["Error"]["Code"] == "MalformedXML"
    assert answer["Error"]["Message"].startswith(
        "smlocal could not read the request to s3 PUT /malformed-xml"
    )


def test_unsigned_sts_request_with_bad_base64_is_a_sender_error_naming_sts(smlocal):
    """AssumeRoleWithSAML is sent unsigned: the form's Version says it is STS."""
    sts = client(smlocal, "sts")
    answer = error_of(
        lambda: sts.assume_role_with_saml(
            RoleArn="arn:aws:iam::123456789012:role/r",
            PrincipalArn="arn:aws:iam::123456789012:saml-provider/p",
            SAMLAssertion="xxxxxxxxxx",
        )
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["Error"]["Code"] == "InvalidParameterValue"
    assert answer["Error"]["Type"] == "Sender"
    assert answer["Error"]["Message"].startswith(
        "smlocal could not read the request to sts AssumeRoleWithSAML: Error:"
    )


def test_query_action_the_service_lacks_is_invalid_action(smlocal):
    iam = client(smlocal, "iam")

    def rename(request, **_):  # an action IAM has never had, of the same length
        request.body = request.body.replace("Action=ListRoles", "Action=FrobRoles")
        request.headers["Content-Length"] = str(len(request.body))

    iam.meta.events.register("before-send.iam.ListRoles", rename)
    answer = error_of(iam.list_roles)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["Error"] == {
        "Code": "InvalidAction",
        "Message": "The action FrobRoles is not valid for this web service.",
        "Type": "Sender",
    }


def test_query_request_without_a_form_is_missing_action(smlocal):
    iam = client(smlocal, "iam")

    def as_json(request, **_):
        request.headers["Content-Type"] = "application/json"

    iam.meta.events.register("before-send.iam.ListRoles", as_json)
    answer = error_of(iam.list_roles)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["Error"]["Code"] == "MissingAction"


def test_unreadable_bodies_are_logged_with_service_operation_and_reason(smlocal):
    """The 400 is the client's fault, but the user reads the emulator's log to see why."""
    dynamodb = client(smlocal, "dynamodb")  # refused before moto (the JSON check)
    corrupt_body(dynamodb, "dynamodb.ListTables", b'["logged"]')
    assert error_of(dynamodb.list_tables)["Error"]["Code"] == "SerializationException"
    s3 = client(smlocal, "s3")  # refused by moto's XML parser
    s3.create_bucket(Bucket="logged-malformed-xml")
    corrupt_body(s3, "s3.PutBucketTagging", b"<Tagging><TagSet><Tag>")
    tagging = {"TagSet": [{"Key": "k", "Value": "v"}]}
    answer = error_of(lambda: s3.put_bucket_tagging(Bucket="logged-malformed-xml", Tagging=tagging))
    assert answer["Error"]["Code"] == "MalformedXML"
    lines = smlocal.log().splitlines()
    prefix = "WARNING smlocal.emulator.embedded.errors: answered 400"
    assert any(
        line.endswith(
            f"{prefix} SerializationException: smlocal could not read the request to dynamodb "
            "ListTables: the body is a JSON list, not an object"
        )
        for line in lines
    )
    assert any(
        f"{prefix} MalformedXML: smlocal could not read the request to s3 "
        "PUT /logged-malformed-xml: ExpatError: no element found" in line
        for line in lines
    )


# ---- what moto reads that the checks here must let through --------------------------------


def test_gzipped_json_put_metric_data_reaches_moto(smlocal):
    """boto3 gzips a CloudWatch PutMetricData body above 10 KB (botocore's request
    compression); the JSON check must not read the gzip bytes as malformed JSON."""
    cloudwatch = client(smlocal, "cloudwatch")
    assert cloudwatch.meta.config.request_min_compression_size_bytes == 10240
    sent: dict = {}

    def record(request, **_):
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        sent.update(headers=headers, body=request.body)

    cloudwatch.meta.events.register("before-send.cloudwatch.PutMetricData", record)
    data = [
        {"MetricName": "Gzipped", "Dimensions": [{"Name": "Shard", "Value": f"shard-{i}"}],
         "Value": float(i), "Unit": "Count"}
        for i in range(200)
    ]  # fmt: skip
    cloudwatch.put_metric_data(Namespace="smlocal/gzip", MetricData=data)
    assert sent["headers"]["Content-Encoding"] == "gzip"
    assert "X-Amz-Target" in sent["headers"]  # the JSON protocol, which the check reads
    document = json.loads(gzip.decompress(sent["body"]))
    assert len(document["MetricData"]) == 200
    pages = cloudwatch.get_paginator("list_metrics").paginate(
        Namespace="smlocal/gzip", MetricName="Gzipped"
    )
    shards = {m["Dimensions"][0]["Value"] for page in pages for m in page["Metrics"]}
    assert shards == {f"shard-{i}" for i in range(200)}


def test_empty_404_moto_answers_an_implemented_operation_stays_a_404(smlocal):
    """moto's S3 answers PutBucketVersioning with no <Status> by an empty 404: the operation
    is implemented, so it is a 404 in S3's shape, not 501 NotImplemented."""
    s3 = client(smlocal, "s3")
    s3.create_bucket(Bucket="versioning-without-status")
    answer = error_of(
        lambda: s3.put_bucket_versioning(
            Bucket="versioning-without-status", VersioningConfiguration={}
        )
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    assert answer["Error"] == {
        "Code": "NotFound",
        "Message": "smlocal's embedded moto could not act on s3 PutBucketVersioning "
        "(PUT /versioning-without-status) as sent; it answered 404 with no error",
    }
    status = s3.get_bucket_versioning(Bucket="versioning-without-status")
    assert "Status" not in status
