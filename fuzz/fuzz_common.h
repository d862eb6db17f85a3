/* What the fuzz targets share. Each fuzz/fuzz_X.c is built on its own into
 * one binary, so this is a header of static functions and data: define
 * FUZZ_NAME ("fuzz_X", for messages) before including it.
 *
 *	#define FUZZ_NAME "fuzz_frame"
 *	#include "fuzz_common.h"
 *
 * It has the libFuzzer entry points' prototypes, CHECK (the property a
 * target checks: abort, which libFuzzer reports as a crash), the seed
 * generators' helpers (CC_FUZZ_GEN_SEEDS=dir) and the example keys. */
#ifndef CC_FUZZ_COMMON_H
#define CC_FUZZ_COMMON_H

#ifndef FUZZ_NAME
#error "define FUZZ_NAME before including fuzz_common.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/rng_test.h"
#include "util/buf.h"
#include "util/err.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                  \
	do {                         \
		if (!(cond))         \
			abort();     \
	} while (0)

/* ---- seed generation (CC_FUZZ_GEN_SEEDS=dir) ---- */

/* A step of the seed generator that must succeed: else a message and exit 1. */
static inline void fuzz_must(cc_err err, const char *what)
{
	if (err != CC_OK) {
		fprintf(stderr, FUZZ_NAME ": %s: %s\n", what, cc_err_str(err));
		exit(1);
	}
}

/* Writes N bytes at P as the seed DIR/NAME (exit 1 if it cannot). */
static inline void fuzz_write(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, FUZZ_NAME " seeds: cannot write %s\n", path);
		exit(1);
	}
	printf("%s (%zu bytes)\n", path, n);
}

static inline void fuzz_write_buf(const char *dir, const char *name, const struct buf *b)
{
	fuzz_write(dir, name, b->data, b->len);
}

/* Every random draw from now on comes from SEED (crypto_test_rng_restore()
 * ends it). */
static inline void fuzz_rng_seed_str(const char *seed)
{
	crypto_test_rng_seed((const uint8_t *)seed, strlen(seed));
}

/* ---- the example keys ---- */

/* The fuzz build has no source path to read keys from, so the example keys
 * of tests/data are copied here. tests/data/example_server_key.pem: */
static const char fuzz_server_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC8U1V3kRnYwL0K\n"
	"UvinGiiywV9gR70r330MBbVxCuk4MlGY6yGZKE6OQ3L9Cybk0wcUALknLS6nWfHi\n"
	"2jMlRrtJx/z9hYJgpJvHOW3qzMlOrR7mvICTQ8kzEeppmOyYTTR63uMjVMg3llQ/\n"
	"NYF1EAkAJjk0woTFv5u/eCN/k7bF86Auvdq1+Ps7XTZtmzeyBwmrqFEEy8p8OhHR\n"
	"HFXycypUaDQpC/FiIrmGM6673alSbYnvV6HQONhKEFxIH5XttfTsiBKZ4lm9mvEG\n"
	"fkWNIZftH7cfn5ibDJ1UsO0Xt765EIQMpcfm1h+cxn6Qryuf8f4bB+STh1rksFSz\n"
	"8QJEFkI7AgMBAAECggEAGVPj1LbREROq2O6bvm2IN7JGD37WdEYUXT+PTWq4PvSV\n"
	"gMlutVh0aDGuD1YmnvO6qfgG7rvm4F76ZxYNdt/yZFPfNIF2LWU2Bi81FzT/hfNG\n"
	"iqWjbSrarmGkcxs8BqerfTLovWGzo7Y2EmIxzPqhG0IIw429qZLBcZjIvWmyVSDZ\n"
	"gfGWtyQBuiu3Z5wqizgO0vuGtsSw0oCuluJxEvWVqrJojO66jfGB6mMaOKaoWBo5\n"
	"dMGen1vNI80YH8MlY4mNnvxOJj+k5KKp5NeSw1D2im8IFOd9ezt6FK0jHHU9yonx\n"
	"JYGGmzhqqthrQ+iXQxYyobaNuzEl4tRc+ZIv7BH0YQKBgQDxMVKecc5odHfaxKm3\n"
	"Mu/Z0/2FByNj/kyNi6+ancIUjvkFuX6kEFV0b7BqnW869Dx8eqXzXnGQcENLzCCu\n"
	"E00JHPeRMAiYkXg7UXjRwtJrGvzMB5PDC/9gv2JKOsKJMPaVxCBP1a+BCs3B/QdJ\n"
	"SPALDzioCzofI36iOhvS1NECqQKBgQDH4yFxVrvjSKAvlvK3pCJWu2zwwL1ELzsm\n"
	"hwkq8B6ueudGJ8Y+mnhKB1JlLcyuayEIX6JsBRSzCYsxdEqBMHiSVmRh+JUPS2aK\n"
	"97kxQId3xhD0KGG8u8+QzvRfFaSS40BWR4OqPAyZP1ZB4egJ91mdTwrpELppAchF\n"
	"RQ3HcngQQwKBgCG9lKE1qnpSULH58QP/zC3cygpiBUFnwa3LbLVkfFID7jIu0NiC\n"
	"sHGpbjR78aN9pziCr9Rr0dcy3TctRyUS7iPoOXnGDm3Ja9hgfVZaurThAZxJMxKG\n"
	"CyOtokJgFfa7MsOgvCRu8C5NJJuOmgZWfb4OUw6vA2J3xK9NEbdcriCBAoGADTWi\n"
	"YSYVNpj3FQ4Jrj8nkcnDEkn6eAYTB6HG5lKGBIvUutsoC70Tk/jV5h/XtfMYdMA1\n"
	"MKRJUOehjjwcLFtyrGEPMzZFS4R1G1vxniKgkTbCqg/9HYbf2bcDiUEZ5ickek8x\n"
	"kU90mbAI2EPAnN/+yRmPJAXZ+9SFUqaUmYikDJcCgYEAo/UAILCOF2nGmnAed4ft\n"
	"QuY655NHcTzoTx0Rk86owsD108XNNE8gMRwAEsfsg/Yh0YZM266aeiQtvKSipizo\n"
	"D8occ0Kc9M1VK32KVIWPCyrYTRL0VvnTTFakiG5kEjXRP4FQQvuQT/lefKg8tRvi\n"
	"NJSu196hyAqdLmU09nv2JXg=\n"
	"-----END PRIVATE KEY-----\n";
/* tests/data/example_client_key.pem: */
static const char fuzz_client_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCGBXa0pI+ecSJ4\n"
	"pKvCg+dEnKhWWyGaNyKJJrsOULQl6k7t1TFEAQoSIPkGlVktg+oY13U/fdSxybQc\n"
	"lLsmIziOIdKpuIrLj0kY0xc6LVZHuoFlqIijoIePYjlvoBWq0j9JkBAe0w+Yoyvs\n"
	"lo7axKV7cwz+oUv0h1pDX/QtLZfsQhVnxvgSmmBeNtxzPkV7rbqjGupzYSAVCTB1\n"
	"KlhWHJPCzgBYRw8yfmAVKdThlhSqmBQZAW/D7schw8gvJTeWpWQOfmsJ7N9ru9Ou\n"
	"vCmSOtepWORKkATC5kbjS/nQk0MRqb0K/I5yYwUogpGKEi7zyjQb8gBdijBtqe4m\n"
	"/GsugjERAgMBAAECggEAAM8uIxOeUWbd/iwCZIOO5TVr98+HkaqVEQ50kTbQC62R\n"
	"SfLgYAiAktDzqARFXFbAVmOQr/A21VcCOSz1v1p1mDggkUlNv0JvftChgoatD3RT\n"
	"HTXKE3Df+K/vaFrnXpdz7eIKkuET5khP9tcG6E/JLwhoEu6O6pxZoXAGJbKxiOnw\n"
	"AeA8GbzQDOioLiWI6bwEqY/b/62Ltmpx4XUBH+yoaht2w1BQiZDr+AvIYcmpswl2\n"
	"6IqZONT50M8+/J/UrQh4Q6Gb25GX4kv/xweog5uoYnJB21kC9HuIgAmy0kjyjBmq\n"
	"e3OeCR6g25DXFERr9ybexKHusmGFbJ2FLB2z9bjLpQKBgQC8h0pkML7Pg7vOJU6x\n"
	"/hWtO73m8fh6/UVYbWCwpuDU6HfP5CNtGTkvGeJUsBq8uDomR4rdG/CyaezdvH/Y\n"
	"lUNGbLR10vUwE5PFff5kv9eJKVo/SUqobmbq9fvRtKJQc4P4VLmO5a0wNvdl0l6l\n"
	"0wF1w0OcXgo/z0VEKJaH/q8wHQKBgQC1/E6qN5/eAvAVD9vO1ChfLmypPhrt5BM3\n"
	"q1v1CChIJFIRjC9fjEdFYP++kikJi7tGmQTgU3KVla1TAG3ehwevRlao7jnbuejv\n"
	"7ieqc4KF5urha3F5xECfpBaDpwG2luTds8WDW8PqfPqAOguu7Cua7afe3Omq/dfI\n"
	"eGoLBKRahQKBgQCZJrKJF4w6WYKcYXQ/ZfBIDSskzFaV2t+ViS0t9DLa4opKKMOa\n"
	"og3xNG7Ha1QdEO+0HxQwsLzkwuX372RQFllTgYVL3fbuekjl+4dIYwv90ckNdkWe\n"
	"9CjJINDTt5DQGDcR6gnfircZXt21KqNWxEYAW4K2KTLcSU20o+A9U+kPBQKBgQCq\n"
	"gZHGo8UyQnhkk24zs817mEiQrTKX7tgekXvf8Vukc/s8m6aLFCh2lXIoQFMYsYWu\n"
	"mJHcB/NUuV8iZEWMd+E4VGO/dSxadS4NFoqthfolsPwiZgN0ve56ZEf/44qUY35d\n"
	"RiDpeSHvYldlqnzl0DrutnpRMZPw9FKnbkKUvi2q7QKBgBdvMBJ9jXyXpA4Kdf0r\n"
	"tb0Y8ZsXZbwJ/SDafHGnNE4nzDt32EQZPpD0kETO0SmjK+OZ5fHG8hZJpxqJGrJa\n"
	"ZbulvPTV+ry+NvyTi/uOjbr1s/XgLGFLKyYb1HAlr/Gs2uptz+lW+PxkqDUNOurj\n"
	"47WNWmQ2B/nCL105m7jXCIW5\n"
	"-----END PRIVATE KEY-----\n";

#endif
