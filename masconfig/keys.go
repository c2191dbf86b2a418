package masconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
)

// MAS's keys are derived from generated secrets (RandomPasswords, kept in
// Pulumi state as secrets) rather than generated afresh: a new key on
// every `pulumi up` would sign users out and break every issued token.
// pulumi-tls, which would keep keys in state, is not a dependency we can
// take, and since Go 1.26 crypto's key generators ignore a caller's
// random source; so the derivation is explicit: a SHAKE256 stream of the
// secret drives the prime search (RSA) or gives the scalar (P-256).

// RSABits is the RSA signing key's size (MAS needs an RSA key: RS256 is
// the algorithm every OIDC client supports).
const RSABits = 3072

// EncryptionKey is secrets.encryption: 32 bytes as 64 hex digits.
func EncryptionKey(secret string) string {
	sum := sha256.Sum256([]byte("mas-encryption:" + secret))
	return hex.EncodeToString(sum[:])
}

// stream is a deterministic byte stream of a secret for one purpose.
func stream(purpose, secret string) *sha3.SHAKE {
	s := sha3.NewSHAKE256()
	s.Write([]byte(purpose + "\x00" + secret))
	return s
}

// rsaKeys remembers derived RSA keys by a hash of their secret: the
// prime search takes most of a second, and a program run (or a test run
// of many stacks) derives the same key many times.
var rsaKeys sync.Map

// RSAKey derives an RSA private key (PKCS#1 PEM) from a secret.
func RSAKey(secret string) (string, error) {
	if len(secret) < 16 {
		return "", fmt.Errorf("masconfig: the RSA key's secret is too short")
	}
	id := sha256.Sum256([]byte(secret))
	if k, ok := rsaKeys.Load(id); ok {
		return k.(string), nil
	}
	k, err := deriveRSAKey(secret)
	if err == nil {
		rsaKeys.Store(id, k)
	}
	return k, err
}

func deriveRSAKey(secret string) (string, error) {
	s := stream("mas-rsa", secret)
	e := big.NewInt(65537)
	one := big.NewInt(1)
	for {
		p, q := prime(s, RSABits/2), prime(s, RSABits/2)
		if p.Cmp(q) == 0 {
			continue
		}
		pm1, qm1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
		// d = e⁻¹ mod λ(n), λ(n) = lcm(p-1, q-1).
		gcd := new(big.Int).GCD(nil, nil, pm1, qm1)
		lambda := new(big.Int).Div(new(big.Int).Mul(pm1, qm1), gcd)
		d := new(big.Int).ModInverse(e, lambda)
		if d == nil {
			continue // e divides p-1 or q-1
		}
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != RSABits {
			continue
		}
		key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())}, D: d, Primes: []*big.Int{p, q}}
		if err := key.Validate(); err != nil {
			return "", fmt.Errorf("masconfig: derived RSA key: %w", err)
		}
		key.Precompute()
		der := x509.MarshalPKCS1PrivateKey(key)
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})), nil
	}
}

// prime reads candidates of bits bits (top two bits set, so that p·q has
// exactly 2·bits bits; odd) until one is prime. ProbablyPrime(20) is 20
// Miller-Rabin rounds plus a Baillie-PSW test.
func prime(s *sha3.SHAKE, bits int) *big.Int {
	buf := make([]byte, bits/8)
	for {
		s.Read(buf)
		buf[0] |= 0xc0
		buf[len(buf)-1] |= 1
		c := new(big.Int).SetBytes(buf)
		if c.ProbablyPrime(20) {
			return c
		}
	}
}

// ECKey derives a P-256 private key (PKCS#8 PEM) from a secret.
func ECKey(secret string) (string, error) {
	if len(secret) < 16 {
		return "", fmt.Errorf("masconfig: the EC key's secret is too short")
	}
	s := stream("mas-p256", secret)
	n := elliptic.P256().Params().N
	buf := make([]byte, 32)
	for {
		s.Read(buf)
		k := new(big.Int).SetBytes(buf)
		if k.Sign() == 0 || k.Cmp(n) >= 0 {
			continue // rejection sampling: uniform in [1, n)
		}
		key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), buf)
		if err != nil {
			return "", fmt.Errorf("masconfig: derived EC key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return "", fmt.Errorf("masconfig: %w", err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
	}
}
