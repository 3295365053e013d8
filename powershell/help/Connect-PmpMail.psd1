@{
    Synopsis    = 'Connects to an app registration once for the whole PowerShell session.'
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
            Title   = 'Connect with a saved profile'
            Code    = 'Connect-PmpMail -ProfileName ''contoso-mail'''
            Remarks = 'See Register-PmpMailProfile.'
        }
    )
    Links       = @('Disconnect-PmpMail', 'New-PmpMailConnection', 'Send-PmpMail', 'Test-PmpMailPermission')
}
