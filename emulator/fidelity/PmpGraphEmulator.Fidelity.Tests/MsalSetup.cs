using System.Security.Cryptography.X509Certificates;
using Microsoft.Identity.Client;
using Microsoft.IdentityModel.Abstractions;
using Microsoft.Kiota.Abstractions.Authentication;

namespace PmpGraphEmulator.Fidelity.Tests;

/// <summary>One request MSAL sent: method, URL and (for form posts) the decoded form fields.</summary>
internal sealed record SentRequest(HttpMethod Method, Uri Uri, IReadOnlyDictionary<string, string> Form);

/// <summary>
/// MSAL's HTTP goes through one <see cref="HttpClient"/> that trusts only the emulator CA, and
/// notes what MSAL sent so tests can check the wire shape the emulator accepted.
/// </summary>
internal sealed class TrustedMsalHttpClientFactory : IMsalHttpClientFactory, IDisposable
{
    private readonly HttpClient _client;
    private readonly Recorder _recorder;

    public TrustedMsalHttpClientFactory(X509Certificate2 ca)
    {
        _recorder = new Recorder { InnerHandler = EmulatorTrust.CreateHandler(ca) };
        _client = new HttpClient(_recorder);
    }

    public IReadOnlyList<SentRequest> Sent
    {
        get
        {
            lock (_recorder.Sent)
            {
                return [.. _recorder.Sent];
            }
        }
    }

    public HttpClient GetHttpClient() => _client;

    public void Dispose() => _client.Dispose();

    private sealed class Recorder : DelegatingHandler
    {
        public List<SentRequest> Sent { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var form = new Dictionary<string, string>(StringComparer.Ordinal);
            if (request.Content?.Headers.ContentType?.MediaType == "application/x-www-form-urlencoded")
            {
                // Buffer first so the body is still there to send after it was read here.
                await request.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
                var text = await request.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                foreach (var pair in text.Split('&', StringSplitOptions.RemoveEmptyEntries))
                {
                    var kv = pair.Split('=', 2);
                    form[Uri.UnescapeDataString(kv[0].Replace('+', ' '))] =
                        kv.Length > 1 ? Uri.UnescapeDataString(kv[1].Replace('+', ' ')) : string.Empty;
                }
            }

            lock (Sent)
            {
                Sent.Add(new SentRequest(request.Method, request.RequestUri!, form));
            }

            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// How a real app configures MSAL.NET for an Entra-compatible authority that is not a Microsoft
/// host: an AAD-type tenant authority, authority validation off, and instance discovery either
/// off or pointed at the authority's own discovery endpoint.
/// </summary>
internal static class Msal
{
    public enum Discovery
    {
        /// <summary><c>WithInstanceDiscovery(false)</c>: no discovery request at all.</summary>
        Off,

        /// <summary><c>WithInstanceDiscoveryMetadata(uri)</c>: discovery from the emulator.</summary>
        FromEmulator,
    }

    public static ConfidentialClientApplicationBuilder Builder(
        EmulatorFixture emu,
        IMsalHttpClientFactory http,
        string clientId = EmulatorFixture.ClientId,
        Discovery discovery = Discovery.Off,
        string? tenant = null)
    {
        var authority = tenant is null ? emu.Authority : $"{emu.AuthorityHost}/{tenant}/";
        var b = ConfidentialClientApplicationBuilder.Create(clientId)
            .WithAuthority(authority, validateAuthority: false)
            .WithHttpClientFactory(http)
            .WithLogging(new MsalLog(), enablePiiLogging: false);
        b = discovery switch
        {
            Discovery.Off => b.WithInstanceDiscovery(false),
            Discovery.FromEmulator =>
                b.WithInstanceDiscoveryMetadata(new Uri($"{emu.AuthorityHost}/common/discovery/instance")),
            _ => throw new ArgumentOutOfRangeException(nameof(discovery)),
        };
        return b;
    }

    /// <summary>MSAL log lines go to stderr of the test host, visible with --logger console.</summary>
    private sealed class MsalLog : IIdentityLogger
    {
        public bool IsEnabled(EventLogLevel eventLogLevel) =>
            eventLogLevel <= EventLogLevel.Warning
            || Environment.GetEnvironmentVariable("PMP_FIDELITY_MSAL_VERBOSE") == "1";

        public void Log(LogEntry entry) => Console.Error.WriteLine($"[msal] {entry.Message}");
    }
}

/// <summary>
/// Kiota access-token provider over MSAL's client-credentials flow: the same thing
/// Azure.Identity's ClientSecretCredential does, without pulling Azure.Identity in.
/// </summary>
internal sealed class MsalAccessTokenProvider(IConfidentialClientApplication app, string[] scopes, params string[] allowedHosts)
    : IAccessTokenProvider
{
    public int Calls { get; private set; }

    public AllowedHostsValidator AllowedHostsValidator { get; } = new(allowedHosts);

    public async Task<string> GetAuthorizationTokenAsync(
        Uri uri,
        Dictionary<string, object>? additionalAuthenticationContext = null,
        CancellationToken cancellationToken = default)
    {
        if (!AllowedHostsValidator.IsUrlHostValid(uri))
        {
            return string.Empty;
        }

        Calls++;
        var result = await app.AcquireTokenForClient(scopes).ExecuteAsync(cancellationToken).ConfigureAwait(false);
        return result.AccessToken;
    }
}
