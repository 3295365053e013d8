@{
    Synopsis    = 'Saves a named connection profile (tenant, app registration, where the credential is) without storing secrets in plain text.'
    Description = @'
Register-PmpMailProfile saves a profile as a JSON file under the user's configuration folder (%APPDATA%\pmp-mail\profiles on Windows, ~/.config/pmp-mail/profiles elsewhere; $env:PMP_MAIL_PROFILE_DIR overrides it). Cmdlets then take -ProfileName instead of credential parameters: useful for the app registration you already have (for example the one used for Intune publishing) and for MSPs with many tenants.

Managed identity (-ManagedIdentity, with -ClientId, -ManagedIdentityObjectId or -ManagedIdentityResourceId for a user-assigned identity), workload identity (-FederatedTokenFile; without -TenantId or -ClientId the profile reads AZURE_TENANT_ID or AZURE_CLIENT_ID where it is used) and -EnvironmentVariable (the AZURE_* variables, read where the profile is used) profiles hold no secret at all: the platform's endpoints and identity header are never saved. A Google Workspace profile (with -Impersonate, -GoogleTokenUri, -GmailRoot) never keeps the key: -ServiceAccountKeyPath saves the key file's path, -ServiceAccountKeyEnvironmentVariable the name of the variable that holds the key (read where the profile is used), and a certificate that signs (-ServiceAccountEmail, -ServiceAccountKeyId with -CertificateThumbprint or -Certificate) its thumbprint, or with -CertificatePath the PFX's path; -ServiceAccountKey is refused with PmpMail.ServiceAccountKeyNotSaved.

No secret is ever written in plain text. Certificates are saved by thumbprint (found in CurrentUser\My or LocalMachine\My when used) or PFX path. A client secret is protected with DPAPI for the current user on Windows; on Linux and macOS there is no DPAPI, so a client secret is refused: use -ClientSecretEnvironmentVariable NAME, which saves only the variable's name and reads it when the profile is used, or a certificate.
'@
    Parameters  = @{
        Name     = 'The profile name: 1-64 letters, digits, ".", "_" or "-".'
        Force    = 'Replaces an existing profile of the same name.'
        PassThru = 'Returns the saved profile.'
        ClientSecret = 'The client secret. Saved DPAPI-protected (current user) on Windows; refused on other systems, where no protection is available: use -ClientSecretEnvironmentVariable or a certificate there.'
        Certificate  = 'A certificate object; only its thumbprint is saved, so it must be in CurrentUser\My or LocalMachine\My when the profile is used.'
        CertificatePassword = 'The PFX password. Saved DPAPI-protected on Windows; refused elsewhere (use a PFX without a password in a protected folder, or the certificate store).'
    }
    Outputs     = @{ 'None' = 'By default.'; 'PmpMail.PmpMailProfile' = 'With -PassThru.' }
    Examples    = @(
        @{
            Title   = 'Reuse the existing app registration''s certificate'
            Code    = @'
Register-PmpMailProfile -Name 'contoso-mail' -TenantId 'contoso.onmicrosoft.com' -ClientId $intuneAppId `
    -CertificateThumbprint 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678'
Send-PmpMail -ProfileName 'contoso-mail' -To 'ops@contoso.com' -Subject 'Patched' -From 'alerts@contoso.com'
'@
            Remarks = 'The profile holds the thumbprint only; the certificate stays in the store.'
        }
        @{
            Title   = 'A secret read from an environment variable (Linux, containers, CI)'
            Code    = @'
Register-PmpMailProfile -Name 'fabrikam' -TenantId 'fabrikam.onmicrosoft.com' -ClientId $appId `
    -ClientSecretEnvironmentVariable 'FABRIKAM_MAIL_SECRET'
'@
            Remarks = 'At use time the secret comes from $env:FABRIKAM_MAIL_SECRET; the profile file never contains it.'
        }
        @{
            Title   = 'Google Workspace with the key in an environment variable (CI)'
            Code    = @'
Register-PmpMailProfile -Name 'gmail' -ServiceAccountKeyEnvironmentVariable 'GMAIL_SA_KEY'
Send-PmpMail -ProfileName 'gmail' -To 'ops@example.com' -Subject 'Build done' -From 'alerts@example.com'
'@
            Remarks = 'GMAIL_SA_KEY holds the whole JSON key file; the profile file keeps only the variable''s name.'
        }
        @{
            Title   = 'A user-assigned managed identity on an Azure VM'
            Code    = @'
Register-PmpMailProfile -Name 'vm-mail' -ManagedIdentity -ClientId 'b0000000-0000-0000-0000-000000000001'
Send-PmpMail -ProfileName 'vm-mail' -To 'ops@contoso.com' -Subject 'Backup done' -From 'alerts@contoso.com'
'@
            Remarks = 'The profile holds the identity''s client id only; the token comes from IMDS when the profile is used.'
        }
        @{
            Title   = 'A profile for the local emulator'
            Code    = @'
$emu = 'https://127.0.0.1:40123'   # printed by: pmp-graph-emulator serve --demo --state-dir ./emu
$env:PMP_DEMO_SECRET = 'demo-secret-value'
Register-PmpMailProfile -Name 'emulator' -TenantId 'contoso.onmicrosoft.com' -ClientId '22222222-2222-2222-2222-222222222222' `
    -ClientSecretEnvironmentVariable 'PMP_DEMO_SECRET' -AuthorityHost $emu -GraphRoot $emu -TrustedCaPath ./emu/ca.pem
Test-PmpMailPermission -ProfileName 'emulator'
'@
            Remarks = 'Endpoint overrides are saved with the profile.'
        }
    )
    Links       = @('Get-PmpMailProfile', 'Unregister-PmpMailProfile', 'Connect-PmpMail')
}
