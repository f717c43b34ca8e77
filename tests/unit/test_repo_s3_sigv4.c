/* test_repo_s3_sigv4.c: the SigV4 module (src/repo/s3_sigv4.c) against the worked examples of the AWS
 * S3 documentation ("Signature Calculations for the Authorization Header", GET Object with a Range
 * header and PUT Object of "Welcome to Amazon S3." with a $ in its name): the exact Authorization
 * values, the payload hash, URI encoding, and the date format. */
#include "check.h"
#include "repo/s3_sigv4.h"
#include <errno.h>
#include <string.h>

static const struct s3_creds EXAMPLE = { "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL,
                                         "us-east-1" };
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

TEST(get_object_example)
{
    /* headers in any order: the module sorts them */
    struct s3_hdr h[] = { { "x-amz-date", "20130524T000000Z" }, { "range", "bytes=0-9" },
                          { "host", "examplebucket.s3.amazonaws.com" }, { "x-amz-content-sha256", EMPTY_SHA } };
    char out[512], hash[S3_SHA256_HEX_LEN + 1];
    CHECK_EQ_INT(s3_sha256_hex("", 0, hash), 0);
    CHECK(strcmp(hash, EMPTY_SHA) == 0);
    CHECK_EQ_INT(s3_sigv4_authorization(&EXAMPLE, "GET", "/test.txt", "", h, 4, EMPTY_SHA, "20130524T000000Z", out,
                                        sizeof out), 0);
    CHECKF(strcmp(out, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                       "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                       "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") == 0, "%s", out);
    CHECK_EQ_INT(s3_sigv4_authorization(&EXAMPLE, "GET", "/test.txt", "", h, 4, EMPTY_SHA, "20130524T000000Z", out,
                                        40), -ENAMETOOLONG);
}

TEST(put_object_example)
{
    char hash[S3_SHA256_HEX_LEN + 1], uri[64], out[512];
    struct s3_hdr h[] = { { "date", "Fri, 24 May 2013 00:00:00 GMT" }, { "host", "examplebucket.s3.amazonaws.com" },
                          { "x-amz-content-sha256", hash }, { "x-amz-date", "20130524T000000Z" },
                          { "x-amz-storage-class", "REDUCED_REDUNDANCY" } };
    CHECK_EQ_INT(s3_sha256_hex("Welcome to Amazon S3.", 21, hash), 0);
    CHECK(strcmp(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072") == 0);
    CHECK_EQ_INT(s3_uri_encode("/test$file.text", 1, uri, sizeof uri), 0);
    CHECK(strcmp(uri, "/test%24file.text") == 0);
    CHECK_EQ_INT(s3_sigv4_authorization(&EXAMPLE, "PUT", uri, "", h, 5, hash, "20130524T000000Z", out, sizeof out), 0);
    CHECKF(strstr(out, "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd") != NULL, "%s", out);
}

TEST(uri_encoding_and_date)
{
    char out[64], date[S3_AMZ_DATE_LEN + 1], md5[32];
    CHECK_EQ_INT(s3_uri_encode("a/b c~d_e.f-g", 0, out, sizeof out), 0);
    CHECK(strcmp(out, "a%2Fb%20c~d_e.f-g") == 0);
    CHECK_EQ_INT(s3_uri_encode("a/b", 1, out, sizeof out), 0);
    CHECK(strcmp(out, "a/b") == 0);
    CHECK_EQ_INT(s3_uri_encode("\xff=", 0, out, sizeof out), 0);
    CHECK(strcmp(out, "%FF%3D") == 0);
    CHECK_EQ_INT(s3_uri_encode("abcdef", 0, out, 6), -ENAMETOOLONG);
    s3_amz_date(1369353600, date); /* 2013-05-24 00:00:00 UTC */
    CHECK(strcmp(date, "20130524T000000Z") == 0);
    CHECK_EQ_INT(s3_md5_base64("", 0, md5, sizeof md5), 0);
    CHECK(strcmp(md5, "1B2M2Y8AsgTpgAmY7PhCfg==") == 0);
}

int main(void)
{
    RUN(get_object_example);
    RUN(put_object_example);
    RUN(uri_encoding_and_date);
    return check_finish();
}
