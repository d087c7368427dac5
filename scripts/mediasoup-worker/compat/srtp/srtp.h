// facerestore: the libsrtp 3 API that the mediasoup worker (>= 3.20) uses,
// implemented on top of Debian 12's libsrtp2 (libsrtp2-dev 2.5.0).
//
// mediasoup normally builds versatica's libsrtp fork (v3 API) from a meson wrap
// that needs the internet. The worker includes <srtp.h>; this directory is put
// on its include path ahead of everything else, so it gets this header, which
// pulls in the real v2 header and adds the v3 calls as C++ inline overloads:
//
//   v3 (what the worker calls)                         v2 (what Debian ships)
//   opaque srtp_policy_t + srtp_policy_create/set_*    public struct srtp_policy_t
//   srtp_create(srtp_t*, srtp_policy_t)                srtp_create(srtp_t*, const srtp_policy_t*)
//   srtp_protect(ctx, in, len, out, &outlen, mki)      srtp_protect(ctx, void* inplace, int* len)
//   srtp_unprotect(ctx, in, len, out, &outlen)         srtp_unprotect(ctx, void* inplace, int* len)
//   (same for *_rtcp)
//   srtp_stream_remove(ctx, ssrc)                      srtp_remove_stream(ctx, ssrc)
//   srtp_err_status_buffer_small / _cryptex_err        (absent)
//
// The v2 struct is renamed while its header is read so that the name
// srtp_policy_t can then be the v3 opaque handle. No worker source is edited.
// MKI is not supported (the worker never uses it; asking for it fails cleanly).
#ifndef FACERESTORE_COMPAT_SRTP3_ON_SRTP2_H
#define FACERESTORE_COMPAT_SRTP3_ON_SRTP2_H

#ifndef __cplusplus
#error "facerestore srtp v3-on-v2 compat header is C++ only"
#endif

#define srtp_policy_t facerestore_srtp2_policy_t
#include <srtp2/srtp.h>
#undef srtp_policy_t

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#define FACERESTORE_SRTP_COMPAT_V2 1

// v3 error codes that libsrtp2 lacks (values as in libsrtp 3). libsrtp2 never
// returns them; the shim returns buffer_small like libsrtp 3 does.
inline constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
inline constexpr srtp_err_status_t srtp_err_status_cryptex_err  = static_cast<srtp_err_status_t>(29);

struct facerestore_srtp3_policy
{
	facerestore_srtp2_policy_t v2;
	// v2 wants the master key and salt concatenated in one buffer.
	unsigned char keySalt[SRTP_MAX_KEY_LEN];
	bool hasKey;
};

// The v3 opaque policy handle.
typedef facerestore_srtp3_policy* srtp_policy_t;

inline srtp_err_status_t srtp_policy_create(srtp_policy_t* policy)
{
	if (policy == nullptr)
	{
		return srtp_err_status_bad_param;
	}

	auto* p = new (std::nothrow) facerestore_srtp3_policy;

	if (p == nullptr)
	{
		return srtp_err_status_alloc_fail;
	}

	std::memset(static_cast<void*>(p), 0, sizeof(*p));
	p->v2.ssrc.type = ssrc_undefined;
	p->v2.next      = nullptr;
	*policy         = p;

	return srtp_err_status_ok;
}

inline void srtp_policy_destroy(srtp_policy_t policy)
{
	if (policy == nullptr)
	{
		return;
	}

	// Wipe the key material (volatile so the stores are not optimised away).
	volatile unsigned char* k = policy->keySalt;

	for (std::size_t i = 0; i < sizeof(policy->keySalt); ++i)
	{
		k[i] = 0;
	}

	delete policy;
}

inline srtp_err_status_t srtp_policy_set_ssrc(srtp_policy_t policy, srtp_ssrc_t ssrc)
{
	if (policy == nullptr)
	{
		return srtp_err_status_bad_param;
	}

	policy->v2.ssrc = ssrc;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_profile(srtp_policy_t policy, srtp_profile_t profile)
{
	if (policy == nullptr)
	{
		return srtp_err_status_bad_param;
	}

	switch (profile)
	{
		case srtp_profile_aes128_cm_sha1_80:
		{
			srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->v2.rtp);
			srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->v2.rtcp);

			return srtp_err_status_ok;
		}

		case srtp_profile_aes128_cm_sha1_32:
		{
			srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy->v2.rtp);
			// RFC 3711 / RFC 5764: SRTCP always uses the 80-bit tag.
			srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->v2.rtcp);

			return srtp_err_status_ok;
		}

		case srtp_profile_aead_aes_128_gcm:
		{
			srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->v2.rtp);
			srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->v2.rtcp);

			return srtp_err_status_ok;
		}

		case srtp_profile_aead_aes_256_gcm:
		{
			srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy->v2.rtp);
			srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy->v2.rtcp);

			return srtp_err_status_ok;
		}

		default:
		{
			return srtp_err_status_bad_param;
		}
	}
}

// Must be called after srtp_policy_set_profile() (as the worker does).
inline srtp_err_status_t srtp_policy_add_key(
  srtp_policy_t policy,
  const uint8_t* key,
  std::size_t keyLen,
  const uint8_t* salt,
  std::size_t saltLen,
  const uint8_t* mki,
  std::size_t mkiLen)
{
	(void)mki;

	if (policy == nullptr || key == nullptr || (saltLen > 0 && salt == nullptr))
	{
		return srtp_err_status_bad_param;
	}

	// A single key, no MKI: that is all the worker uses.
	if (mkiLen != 0 || policy->hasKey)
	{
		return srtp_err_status_no_such_op;
	}

	if (
	  keyLen + saltLen > sizeof(policy->keySalt) ||
	  keyLen + saltLen != static_cast<std::size_t>(policy->v2.rtp.cipher_key_len))
	{
		return srtp_err_status_bad_param;
	}

	std::memcpy(policy->keySalt, key, keyLen);

	if (saltLen > 0)
	{
		std::memcpy(policy->keySalt + keyLen, salt, saltLen);
	}

	policy->v2.key = policy->keySalt;
	policy->hasKey = true;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(srtp_policy_t policy, bool allow)
{
	if (policy == nullptr)
	{
		return srtp_err_status_bad_param;
	}

	policy->v2.allow_repeat_tx = allow ? 1 : 0;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_window_size(srtp_policy_t policy, std::size_t windowSize)
{
	// Same bounds libsrtp2 enforces in srtp_create().
	if (policy == nullptr || (windowSize != 0 && (windowSize < 64 || windowSize >= 0x8000)))
	{
		return srtp_err_status_bad_param;
	}

	policy->v2.window_size = static_cast<unsigned long>(windowSize);

	return srtp_err_status_ok;
}

// v3 srtp_create(): overload of the v2 C function (different parameter type).
inline srtp_err_status_t srtp_create(srtp_t* session, facerestore_srtp3_policy* policy)
{
	if (session == nullptr || policy == nullptr || !policy->hasKey)
	{
		return srtp_err_status_bad_param;
	}

	policy->v2.key  = policy->keySalt;
	policy->v2.next = nullptr;

	// libsrtp2 derives the session keys here and keeps no pointer to the policy.
	const facerestore_srtp2_policy_t* v2Policy = &policy->v2;

	return srtp_create(session, v2Policy);
}

namespace facerestore_srtp_compat
{
	// Copies `in` to `out` (unless in place) and runs the v2 in-place call on it.
	template<class V2Fn>
	inline srtp_err_status_t Run(
	  V2Fn fn,
	  srtp_t ctx,
	  const uint8_t* in,
	  std::size_t inLen,
	  uint8_t* out,
	  std::size_t* outLen,
	  std::size_t extra)
	{
		if (ctx == nullptr || in == nullptr || out == nullptr || outLen == nullptr)
		{
			return srtp_err_status_bad_param;
		}

		if (inLen > static_cast<std::size_t>(INT_MAX) - extra)
		{
			return srtp_err_status_bad_param;
		}

		if (*outLen < inLen + extra)
		{
			return srtp_err_status_buffer_small;
		}

		if (out != in)
		{
			std::memmove(out, in, inLen);
		}

		int len = static_cast<int>(inLen);

		const srtp_err_status_t err = fn(ctx, static_cast<void*>(out), &len);

		if (err == srtp_err_status_ok)
		{
			*outLen = static_cast<std::size_t>(len);
		}

		return err;
	}
} // namespace facerestore_srtp_compat

inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, std::size_t rtpLen, uint8_t* srtp, std::size_t* srtpLen, std::size_t mkiIndex)
{
	if (mkiIndex != 0)
	{
		return srtp_err_status_bad_mki;
	}

	return facerestore_srtp_compat::Run(
	  static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(&srtp_protect),
	  ctx,
	  rtp,
	  rtpLen,
	  srtp,
	  srtpLen,
	  SRTP_MAX_TRAILER_LEN);
}

inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, std::size_t srtpLen, uint8_t* rtp, std::size_t* rtpLen)
{
	return facerestore_srtp_compat::Run(
	  static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(&srtp_unprotect),
	  ctx,
	  srtp,
	  srtpLen,
	  rtp,
	  rtpLen,
	  0);
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, std::size_t rtcpLen, uint8_t* srtcp, std::size_t* srtcpLen, std::size_t mkiIndex)
{
	if (mkiIndex != 0)
	{
		return srtp_err_status_bad_mki;
	}

	return facerestore_srtp_compat::Run(
	  static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(&srtp_protect_rtcp),
	  ctx,
	  rtcp,
	  rtcpLen,
	  srtcp,
	  srtcpLen,
	  SRTP_MAX_TRAILER_LEN + 4); // + SRTCP index word, as libsrtp2 documents
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, std::size_t srtcpLen, uint8_t* rtcp, std::size_t* rtcpLen)
{
	return facerestore_srtp_compat::Run(
	  static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(&srtp_unprotect_rtcp),
	  ctx,
	  srtcp,
	  srtcpLen,
	  rtcp,
	  rtcpLen,
	  0);
}

// `ssrc` in network byte order, as in both versions.
inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}

#endif
