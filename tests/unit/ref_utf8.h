/* ref_utf8.h: a naive UTF-8 check to compare the engine's validator with. */
#ifndef WS_TEST_REF_UTF8_H
#define WS_TEST_REF_UTF8_H

#include <apr.h>

/** Is s[0..len) valid UTF-8 (RFC 3629: no overlongs, no surrogates,
 *  nothing above U+10FFFF)? Decodes code points one by one. */
int ws_test_utf8_ref(const unsigned char *s, apr_size_t len);

#endif /* WS_TEST_REF_UTF8_H */
