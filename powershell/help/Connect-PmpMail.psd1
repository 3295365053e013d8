@{
    Synopsis    = 'Connects to an app registration, or as a managed or workload identity, once for the whole PowerShell session.'
    Description = @'
Connect-PmpMail creates a connection from credentials, a -Connection or a saved profile, checks the credentials right away by getting a token (unless -SkipValidation), and keeps the connection for the session: Send-PmpMail and Test-PmpMailPermission without credential parameters then use it, sharing its token cache and HTTP connections, so a long job asks Entra ID for a token only when the previous one is about to expire. Disconnect-PmpMail closes it. A new Connect-PmpMail replaces (and closes) the previous session connection.

If Entra ID rejects the credentials, Connect-PmpMail stops with an error whose id carries the AADSTS code and keeps no connection. If the app lacks Mail.Send it connects and warns.
'@
    Parameters  = @{
        SkipValidation = 'Does not get a token now; the first cmdlet that needs one will.'
        PassThru       = 'Returns the connection object.'
    }
    Outputs     = @{ 'None' = 'By default.'; 'PmpMail.PmpMailConnection' = 'With -PassThru.' }
    Examples    = @(
        @{
            Title   = 'Connect to Google Workspace with a service account key file'
            Code    = @'
Connect-PmpMail -ServiceAccountKeyPath ./pmp-sender.json -Impersonate 'alerts@example.com'
Send-PmpMail -From 'alerts@example.com' -To 'ops@example.com' -Subject 'Patch report' -Body 'All servers patched.'
'@
            Remarks = 'Validates the domain-wide delegation for alerts@example.com (gmail.send) and keeps the connection for the session; later cmdlets send through Gmail. Without -Impersonate the connection is not validated and each message is sent as its -From address.'
        }
        @{
            Title   = 'Connect once, send many (real tenant, certificate in LocalMachine\My)'
            Code    = @'
Connect-PmpMail -TenantId 'contoso.onmicrosoft.com' -ClientId $appId -CertificateThumbprint $thumbprint
Get-Content ./servers.txt | ForEach-Object {
    Send-PmpMail -To 'ops@contoso.com' -Subject "Patched $_" -From 'alerts@contoso.com'
}
Disconnect-PmpMail
'@
            Remarks = 'Only the first message needs a token request; the rest use the cached token.'
        }
        @{
            Title   = 'Connect to the emulator with the demo secret'
            Code    = @'
$emu = 'https://127.0.0.1:40123'   # printed by: pmp-graph-emulator serve --demo --state-dir ./emu
Connect-PmpMail -TenantId 'contoso.onmicrosoft.com' -ClientId '22222222-2222-2222-2222-222222222222' `
    -ClientSecret (ConvertTo-SecureString 'demo-secret-value' -AsPlainText -Force) `
    -AuthorityHost $emu -GraphRoot $emu -TrustedCaPath ./emu/ca.pem
Send-PmpMail -To 'ops@contoso.com' -Subject 'hello' -From 'alerts@contoso.onmicrosoft.com'
'@
            Remarks = 'The emulator counts token requests at <baseUrl>/_emulator/api/counters: one, however many messages follow.'
        }
        @{
            Title   = 'An Azure Automation runbook with the account''s managed identity'
            Code    = @'
Connect-PmpMail -Identity   # system-assigned; -ClientId <id> for a user-assigned identity
Send-PmpMail -To 'ops@contoso.com' -Subject 'Runbook finished' -From 'alerts@contoso.com'
'@
            Remarks = 'No secret and no app registration: the runbook''s identity gets its token from the platform (IDENTITY_ENDPOINT and IDENTITY_HEADER). Its service principal needs the Graph application role Mail.Send; if it lacks it, Connect-PmpMail warns and Test-PmpMailPermission -Identity prints the commands that assign it.'
        }
        @{
            Title   = 'A pod with AKS workload identity, or a job with the AZURE_* variables'
            Code    = @'
Connect-PmpMail -FederatedTokenFile $env:AZURE_FEDERATED_TOKEN_FILE   # tenant and client id from AZURE_TENANT_ID, AZURE_CLIENT_ID
# or: Connect-PmpMail -EnvironmentVariable   # AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE
'@
            Remarks = 'The federated token file is read again for every token request, so the rotated token AKS writes is used. -Verbose names the environment variables used, never their values.'
        }
        @{
            Title   = 'Connect with a saved profile'
            Code    = 'Connect-PmpMail -ProfileName ''contoso-mail'''
            Remarks = 'See Register-PmpMailProfile.'
        }
    )
    Links       = @('Disconnect-PmpMail', 'New-PmpMailConnection', 'Send-PmpMail', 'Test-PmpMailPermission')
}
