# Help text shared by every cmdlet that takes credentials. A cmdlet's own .psd1 overrides an entry.
@{
    Parameters = @{
        TenantId                        = 'The tenant of the app registration: its id (GUID), a verified domain such as contoso.onmicrosoft.com, or an authority URL such as https://login.microsoftonline.com/contoso.onmicrosoft.com.'
        ClientId                        = 'The application (client) id of the app registration, for example the one you already use for Intune publishing. With -ClientSecretCredential it may be omitted: the credential''s user name is the client id.'
        ClientSecret                    = 'The client secret, as a SecureString (for example from Get-Secret or Read-Host -AsSecureString). It is turned into bytes only inside the native call and the buffer is zeroed afterwards.'
        ClientSecretCredential          = 'A PSCredential whose user name is the client id and whose password is the client secret, for example from Get-Credential or a secret vault.'
        ClientSecretEnvironmentVariable = 'The name of an environment variable that holds the client secret. The variable is read each time a connection is made, so the secret never appears in scripts or profiles.'
        CertificateThumbprint           = 'The thumbprint of a certificate with its private key. It is looked up in CurrentUser\My and then LocalMachine\My (services running as SYSTEM, gMSA or a Hybrid Worker keep their certificates there). On Linux and macOS only CurrentUser\My exists; the error lists every store searched. Case, spaces and colons in the thumbprint are ignored; a value without hex digits fails with PmpMail.CertificateThumbprintInvalid. The private key never leaves .NET: the native library asks PmpMail to sign, so non-exportable keys work.'
        Certificate                     = 'An X509Certificate2 with its private key, for example from Get-Item Cert:\CurrentUser\My\<thumbprint>. The key is used for signing in this process and never exported.'
        CertificatePath                 = 'The path of a PFX (PKCS#12) file holding the certificate and its private key. Relative paths are resolved against the current PowerShell location.'
        CertificatePassword             = 'The password of the PFX file given with -CertificatePath, as a SecureString.'
        Environment                     = 'The national cloud of the app registration: Global (default), USGov (GCC High), USGovDoD or China. It selects the Entra ID authority and the Microsoft Graph endpoint.'
        AuthorityHost                   = 'Overrides the Entra ID authority host, for example the base URL of the local pmp-graph-emulator. Normally not needed: -Environment picks the right one.'
        GraphRoot                       = 'Overrides the Microsoft Graph root URL, for example the base URL of the local pmp-graph-emulator.'
        TrustedCaPath                   = 'A PEM file with extra CA certificates to trust for HTTPS, for example the emulator''s ca.pem or a TLS-inspecting proxy''s CA.'
        Proxy                           = 'An HTTP proxy (http:// or https:// URL, optionally with user:password@) for every request to Entra ID and Microsoft Graph. Without it the HTTPS_PROXY/HTTP_PROXY and NO_PROXY environment variables apply. Saved in a profile by Register-PmpMailProfile.'
        NoProxy                         = 'Host names or addresses that bypass -Proxy (or the environment''s proxy).'
        AssertionAlgorithm              = 'The signature of the client assertion for certificate credentials: PS256 (default, with an x5t#S256 header) or RS256 (with an x5t header), for tenants that refuse x5t#S256.'
        TimeoutSeconds                  = 'The timeout of each HTTP request in seconds (1 to 3600; default 100).'
        MaxRetryWaitSeconds             = 'The most one call waits in total between retries (0 to 3600; default 120), for example for the Retry-After of a throttled request. A longer Retry-After fails the call with PmpMail.Throttled instead of waiting.'
        RetryUnknownOutcome             = 'Retries a send whose outcome is unknown (the connection dropped or timed out after the request was sent, or Graph answered 5xx without Retry-After). Off by default because such a retry can deliver the message twice: without it, the send fails with PmpMail.OutcomeUnknown and nothing is resent.'
        Connection                      = 'A connection made with New-PmpMailConnection (or Connect-PmpMail -PassThru). Its token cache and HTTP connections are reused. Use one connection per tenant when a script serves several tenants.'
        WhatIf                          = 'Shows what would happen without doing it.'
        Confirm                         = 'Asks for confirmation before doing it.'
        ProfileName                     = 'The name of a profile saved with Register-PmpMailProfile (tenant, app, and where the credential is). Tab completion lists the saved profiles.'
    }
    Notes      = @(
        'Credentials are taken, in this order, from the credential parameters, -Connection, -ProfileName, or the session connection made by Connect-PmpMail.'
        'The work is done by the pmp-mail native library (runtimes/<rid>/native in the module folder; PMP_MAIL_NATIVE_PATH overrides it). The module loads no MSAL, Azure.Core or Microsoft Graph SDK assemblies, so it cannot conflict with the Az, ExchangeOnlineManagement or Microsoft.Graph modules.'
        'To try everything without a tenant, start the local emulator: pmp-graph-emulator serve --demo --state-dir ./emu. It prints baseUrl and caPath; the demo tenant is contoso.onmicrosoft.com, app 22222222-2222-2222-2222-222222222222 with secret demo-secret-value, mailbox alerts@contoso.onmicrosoft.com.'
    )
}
