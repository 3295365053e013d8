@{
    Synopsis    = 'Creates a connection object for one app registration in one tenant, or for a managed or workload identity, to pass to -Connection.'
    Description = 'New-PmpMailConnection builds a connection from credential parameters or a saved profile and returns it without making it the session connection and without contacting Entra ID yet. Pass it to Send-PmpMail or Test-PmpMailPermission with -Connection. Each connection keeps its own token cache and HTTP connections and is safe to use from several runspaces at once, which suits MSP scripts that work with many tenants: one connection per tenant. Call Dispose() on it when done (or let the process end).'
    Outputs     = @{ 'PmpMail.PmpMailConnection' = 'ClientId, TenantId, CredentialType, CertificateThumbprint, ManagedIdentity (system-assigned or user-assigned, for a managed identity), FederatedTokenFile, EnvironmentVariables (the names of the variables the credential came from), Environment, AuthorityHost, GraphRoot, ProfileName, CreatedOn, IsOpen; Provider (Microsoft365 or GoogleWorkspace), and for Google Workspace Impersonate, ServiceAccountKeyPath, ServiceAccountKeyEnvironmentVariable (its name) and ServiceAccountEmail (never the key). A managed identity''s connection has no TenantId and shows as "managed identity (system-assigned)".' }
    Examples    = @(
        @{
            Title   = 'One connection per customer tenant (MSP)'
            Code    = @'
$connections = @{}
foreach ($name in 'fabrikam', 'northwind') { $connections[$name] = New-PmpMailConnection -ProfileName $name }
Import-Csv ./alerts.csv | ForEach-Object {
    Send-PmpMail -Connection $connections[$_.Customer] -To $_.To -Subject $_.Subject -Body $_.Body -From $_.From
}
$connections.Values.ForEach('Dispose')
'@
            Remarks = 'Each tenant''s token is requested once and cached in its connection.'
        }
        @{
            Title   = 'A certificate connection against the emulator'
            Code    = @'
$emu = 'https://127.0.0.1:40123'   # printed by: pmp-graph-emulator serve --demo --state-dir ./emu
$c = New-PmpMailConnection -TenantId 'contoso.onmicrosoft.com' -ClientId '22222222-2222-2222-2222-222222222222' `
    -CertificatePath ./emu/demo-app.pfx -CertificatePassword (ConvertTo-SecureString 'demo' -AsPlainText -Force) `
    -AuthorityHost $emu -GraphRoot $emu -TrustedCaPath ./emu/ca.pem
Test-PmpMailPermission -Connection $c
'@
            Remarks = 'The PFX is loaded into .NET; the native library asks it to sign each client assertion.'
        }
    )
    Links       = @('Connect-PmpMail', 'Send-PmpMail', 'Register-PmpMailProfile')
}
