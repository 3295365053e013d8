using System;
using System.Text.RegularExpressions;
using PmpMail.Interop;

namespace PmpMail;

/// <summary>
/// The native library words its messages and remedies for the C ABI's config document ("set retry.retryUnknownOutcome",
/// "add it to http.extraCaCertificatesPem"). A PowerShell user sets those through parameters, so each setting that has
/// one is named by its parameter here (-RetryUnknownOutcome, -TrustedCaPath, ...), and a setting PowerShell has no
/// parameter for is not recommended. Applied to every native error before it becomes an ErrorRecord.
/// </summary>
internal static class PowerShellTerms
{
    private static readonly (Regex Pattern, string Replacement)[] Rules =
    [
        // retry.retryUnknownOutcome (src/mail/graph.rs).
        (Text(@"retry\.retryUnknownOutcome:\s*true retries"), "-RetryUnknownOutcome (given when the connection is made) retries"),
        (Text(@"retry\.retryUnknownOutcome(:\s*true)?"), "-RetryUnknownOutcome"),
        (Text(@"\bretryUnknownOutcome\b"), "-RetryUnknownOutcome"),
        // assertionAlgorithm (src/entra_error.rs).
        (Text(@"""assertionAlgorithm"":\s*""(RS256|PS256)"""), "-AssertionAlgorithm $1"),
        (Text(@"""?assertionAlgorithm""?"), "-AssertionAlgorithm"),
        // http.extraCaCertificatesPem (src/http/mod.rs, src/config.rs): PowerShell reads it from the -TrustedCaPath file.
        (Text(@"add its CA certificate to http\.extraCaCertificatesPem"), "add its CA certificate to the PEM file given to -TrustedCaPath"),
        (Text(@"http\.extraCaCertificatesPem:"), "the -TrustedCaPath file:"),
        (Text(@"http\.extraCaCertificatesPem"), "the -TrustedCaPath file"),
        // Proxy settings (src/http/mod.rs): -Proxy and -NoProxy; useSystemProxy has no parameter (it stays on).
        (Text(@"\(http\.proxy, http\.noProxy, http\.useSystemProxy and the HTTPS_PROXY/NO_PROXY environment variables\)"), "(-Proxy, -NoProxy, and the HTTPS_PROXY/NO_PROXY environment variables)"),
        (Text(@"http\.proxy"), "-Proxy"),
        (Text(@"http\.noProxy"), "-NoProxy"),
        // Timeouts and the retry budget (src/http/mod.rs, src/mail/graph.rs, src/config.rs).
        (Text(@"raise retry\.maxTotalWaitSeconds"), "raise -MaxRetryWaitSeconds"),
        (Text(@"retry\.maxTotalWaitSeconds"), "-MaxRetryWaitSeconds"),
        (Text(@"raise retry\.maxAttempts"), "raise -MaxRetryAttempts"),
        (Text(@"retry\.maxAttempts"), "-MaxRetryAttempts"),
        (Text(@"http\.timeoutSeconds"), "-TimeoutSeconds"),
        (Text(@"the proxy settings and -TimeoutSeconds"), "the proxy settings (-Proxy, -NoProxy, HTTPS_PROXY/NO_PROXY) and -TimeoutSeconds"),
        // cloud (src/entra_error.rs, src/config.rs) is -Environment, whose values are spelled as PmpMailCloud.
        (Text(@"\(usGov, usGovDoD, china\)"), "(USGov, USGovDoD, China)"),
        (Text(@"\(set ""cloud""\)"), "(-Environment)"),
        (Text(@"[Cc]heck the ""cloud"" setting"), "Check -Environment"),
        (Text(@"^cloud is (\w+) but the authority host belongs to the (\w+) cloud"), "-Environment is $1 but -AuthorityHost or -TenantId belongs to the $2 cloud"),
        // allowHttpLoopback (src/config.rs) is for tests of the C ABI only: PowerShell has no parameter for it.
        (Text(@"uses http://; only https:// is allowed \(http only to loopback with allowHttpLoopback\)"), "uses http://; only https:// is allowed"),
        (Text(@"uses http:// to loopback; set allowHttpLoopback: true to allow it"), "uses http://; only https:// is allowed (use the https:// URL)"),
        // Endpoint and identity settings (src/config.rs, src/entra_error.rs).
        (Text(@"\bauthorityHost\b"), "-AuthorityHost"),
        (Text(@"\bgraphRoot\b"), "-GraphRoot"),
        (Text(@"^tenant names the authority"), "-TenantId names the authority"),
        (Text(@"Check clientId and tenant:"), "Check -ClientId and -TenantId:"),
        // Managed identity (src/managed_identity.rs, src/config.rs): PowerShell hands the platform's variables over as the
        // endpoint overrides, so the variables are what the user sets; the identity is chosen by parameters.
        (Text(@", or endpoints\.identityEndpoint and endpoints\.identityHeader"), string.Empty),
        (Text(@"endpoints\.\w+ \((IDENTITY_ENDPOINT|AZURE_POD_IDENTITY_AUTHORITY_HOST|IMDS_ENDPOINT|IDENTITY_HEADER)\)"), "$1"),
        (Text(@"auth\.clientId, auth\.objectId (and|or) auth\.resourceId"), "-ClientId, -ManagedIdentityObjectId $1 -ManagedIdentityResourceId"),
        (Text(@"auth\.objectId"), "-ManagedIdentityObjectId"),
        (Text(@"auth\.resourceId"), "-ManagedIdentityResourceId"),
        (Text(@"auth\.clientId"), "-ClientId"),
        // Workload identity (src/credential.rs): the file comes from -FederatedTokenFile or AZURE_FEDERATED_TOKEN_FILE.
        (Text(@"auth\.tokenFile"), "the federated token file"),
        // The permission test's option (src/permission.rs).
        (Text(@"test again with forceRefresh"), "test again with -ForceRefresh"),
    ];

    /// <summary>The text with each C ABI setting named as its PowerShell parameter.</summary>
    public static string? Translate(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }

        string result = text!;
        foreach ((Regex pattern, string replacement) in Rules)
        {
            result = pattern.Replace(result, replacement);
        }

        return result;
    }

    /// <summary>
    /// The same exception type with its message and remedy in PowerShell's terms (the original as inner exception
    /// unless the native one carries the signer's own failure); the exception itself when nothing changes.
    /// </summary>
    public static PmpMailException Translate(PmpMailException exception)
    {
        PmpErrorDetail detail = exception.Detail;
        string? message = Translate(detail.Message);
        string? remedy = Translate(detail.Remedy);
        if (string.Equals(message, detail.Message, StringComparison.Ordinal) && string.Equals(remedy, detail.Remedy, StringComparison.Ordinal))
        {
            return exception;
        }

        return PmpMailException.Create(exception.Status, detail with { Message = message, Remedy = remedy }, exception.InnerException ?? exception);
    }

    private static Regex Text(string pattern) => new(pattern, RegexOptions.CultureInvariant | RegexOptions.Multiline);
}
