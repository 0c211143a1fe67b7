/* ref_utf8.c: a naive UTF-8 check, independent of engine/ws_utf8.c, for the unit tests and the fuzz target. */
#include "ref_utf8.h"

int ws_test_utf8_ref(const unsigned char *s, apr_size_t len)
{
    apr_size_t i = 0, k, need;
    unsigned long cp, min;

    while (i < len) {
        unsigned int c = s[i];

        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        }
        else if ((c & 0xF0) == 0xE0) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        }
        else if ((c & 0xF8) == 0xF0) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        }
        else {
            return 0;
        }
        if (len - i - 1 < need) {
            return 0;
        }
        for (k = 1; k <= need; ++k) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        i += need + 1;
    }
    return 1;
}
