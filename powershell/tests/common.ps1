# Shared helpers for the PmpMail Pester tests. Dot-source it in BeforeAll.
# Imports the BUILT module (dist/PmpMail at the repository root, or $env:PMP_MAIL_MODULE_PATH) and starts
# the pmp-graph-emulator (tools/PmpBuild.psm1's Start-PmpEmulator: target/debug, $env:CARGO_TARGET_DIR
# honoured; or $env:PMP_MAIL_EMULATOR) with a directory file written here.

$ErrorActionPreference = 'Stop'

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '..' '..')).Path
Import-Module (Join-Path $RepoRoot 'tools' 'PmpBuild.psm1')
$script:ModulePath = if ($env:PMP_MAIL_MODULE_PATH) { $env:PMP_MAIL_MODULE_PATH } else { Join-Path $RepoRoot 'dist' 'PmpMail' }
$script:EmulatorExe = Get-PmpEmulatorPath

Import-Module (Join-Path $ModulePath 'PmpMail.psd1') -Force

# Fixed identities of the test directory.
$script:TenantId = '11111111-1111-1111-1111-111111111111'
$script:TenantDomain = 'contoso.onmicrosoft.com'
$script:AppFull = '22222222-2222-2222-2222-222222222222'       # Mail.Send + Mail.ReadWrite, secret + certificate
$script:AppSendOnly = '33333333-3333-3333-3333-333333333333'   # Mail.Send only (Mail.ReadWrite requested, not consented)
$script:AppNoRoles = '44444444-4444-4444-4444-444444444444'    # no roles
$script:AppExpired = '55555555-5555-5555-5555-555555555555'    # expired secret only
$script:OtherApp = '66666666-6666-6666-6666-666666666666'      # only named in an access policy
$script:GoodSecret = 'good-secret-Ä€-value'
# More secrets of the full app, for tests that must make their own token request although the process
# already caches the full app's token for GoodSecret (the token cache is shared by the process).
$script:IsolatedSecrets = @('isolated-secret-1~x', 'isolated-secret-2~y', 'isolated-secret-3~z')
$script:ExpiredSecret = 'expired-secret-value'
$script:Mailbox = 'alerts@contoso.onmicrosoft.com'
$script:RestrictedMailbox = 'restricted@contoso.onmicrosoft.com'
$script:MissingMailbox = 'ghost@contoso.onmicrosoft.com'

function New-TestCertificate {
    <# A self-signed RSA certificate with its private key, made with .NET's CertificateRequest. #>
    param([string] $Subject = 'CN=pmp-mail test')
    $rsa = [System.Security.Cryptography.RSA]::Create(2048)
    $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new(
        $Subject, $rsa, [System.Security.Cryptography.HashAlgorithmName]::SHA256,
        [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $now = [DateTimeOffset]::UtcNow
    $request.CreateSelfSigned($now.AddDays(-1), $now.AddDays(30))
}

function Get-TestDirectory {
    <# The emulator directory covering the test cases. Certificates are registered as PEM. #>
    param([string[]] $CertificatePem = @())
    @{
        tokenLifetimeSeconds = 3600
        tenants              = @(
            @{ id = $TenantId; domains = @($TenantDomain); cloud = 'global' }
        )
        apps                 = @(
            @{
                tenant = $TenantId; clientId = $AppFull; displayName = 'Patch notifications — Überwachung'
                roles = @('Mail.Send', 'Mail.ReadWrite')
                secrets = @(@($GoodSecret) + $IsolatedSecrets | ForEach-Object { @{ value = $_; expires = '2099-01-01T00:00:00Z' } })
                certificates = @($CertificatePem | ForEach-Object { @{ pem = $_ } })
            }
            @{
                tenant = $TenantId; clientId = $AppSendOnly; displayName = 'Send only'
                roles = @('Mail.Send'); unconsentedRoles = @('Mail.ReadWrite')
                secrets = @(@{ value = $GoodSecret; expires = '2099-01-01T00:00:00Z' })
            }
            @{
                tenant = $TenantId; clientId = $AppNoRoles; displayName = 'No roles'
                roles = @()
                secrets = @(@{ value = $GoodSecret; expires = '2099-01-01T00:00:00Z' })
            }
            @{
                tenant = $TenantId; clientId = $AppExpired; displayName = 'Expired secret'
                roles = @('Mail.Send')
                secrets = @(@{ value = $ExpiredSecret; expires = '2020-01-01T00:00:00Z' })
            }
        )
        mailboxes            = @(
            @{ tenant = $TenantId; address = $Mailbox; displayName = 'Alerts' }
            @{ tenant = $TenantId; address = $RestrictedMailbox; accessPolicyAllowedApps = @($OtherApp) }
            @{ tenant = $TenantId; address = $MissingMailbox; exists = $false }
        )
    }
}

function Start-TestEmulator {
    <# Starts the emulator (--strict) on a free loopback port; returns BaseUrl, CaPath, ControlUrl, StateDir, Process and ControlClient. #>
    param([Parameter(Mandatory)] [hashtable] $Directory)
    $stateDir = Join-Path ([System.IO.Path]::GetTempPath()) ("pmp-mail-pester-" + [guid]::NewGuid().ToString('n'))
    New-Item -ItemType Directory -Path $stateDir | Out-Null
    $configPath = Join-Path $stateDir 'directory.json'
    $Directory | ConvertTo-Json -Depth 10 | Set-Content -LiteralPath $configPath -Encoding utf8NoBOM
    try {
        Start-PmpEmulator -Path $EmulatorExe -ConfigPath $configPath -StateDir $stateDir -Strict `
            -StandardErrorPath (Join-Path $stateDir 'emulator.err')
    }
    catch {
        Remove-Item -LiteralPath $stateDir -Recurse -Force -ErrorAction SilentlyContinue
        throw
    }
}

function Stop-TestEmulator {
    param($Emulator)
    Stop-PmpEmulator $Emulator -RemoveStateDir
}

function New-EmulatorHttpClient {
    <# An HttpClient that trusts exactly one root (see New-PmpEmulatorHttpClient in tools/PmpBuild.psm1). #>
    param([Parameter(Mandatory)] [string] $CaPem)
    New-PmpEmulatorHttpClient -CaPem $CaPem
}

function Invoke-Emulator {
    <# Calls the emulator's control API (loopback only, TLS validated against the emulator's CA); returns the parsed JSON. #>
    param([string] $Path, [string] $Method = 'GET', $Body)
    Invoke-PmpEmulatorControl $script:Emulator $Path -Method $Method -Body $Body
}

function Set-EmulatorFaults {
    <# Replaces the emulator's fault plan, e.g. Set-EmulatorFaults @{ path = 'sendMail'; action = 'dropAfterAccept'; count = 1 }. #>
    param([Parameter(Mandatory)] [hashtable[]] $Rule)
    Invoke-Emulator 'faults' -Method PUT -Body @{ rules = @($Rule) } | Out-Null
}

function Clear-EmulatorFaults { Invoke-Emulator 'faults' -Method DELETE | Out-Null }

function Get-EmulatorCounters { Invoke-Emulator 'counters' }

function Get-EmulatorMessages { @(Invoke-Emulator 'messages') }

function Get-EndpointParameters {
    <# Splat for every cmdlet that should talk to the emulator. #>
    @{ AuthorityHost = $script:Emulator.BaseUrl; GraphRoot = $script:Emulator.BaseUrl; TrustedCaPath = $script:Emulator.CaPath }
}

function Get-SecretParameters {
    param([string] $ClientId = $AppFull, [string] $Secret = $GoodSecret, [string] $Tenant = $TenantId)
    $p = Get-EndpointParameters
    $p.TenantId = $Tenant
    $p.ClientId = $ClientId
    $p.ClientSecret = ConvertTo-SecureString $Secret -AsPlainText -Force
    $p
}

function Get-Sha256Hex {
    param([byte[]] $Bytes)
    [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData($Bytes)).ToLowerInvariant()
}

function ConvertTo-StreamText {
    <# Everything a command wrote to any stream (captured with *>&1) as one text: records by message, objects as JSON. #>
    param([object[]] $InputObject)
    @($InputObject | ForEach-Object {
            if ($_ -is [System.Management.Automation.ErrorRecord]) { "$_"; $_.Exception.ToString() }
            elseif ($_ -is [System.Management.Automation.InformationalRecord]) { $_.Message }
            elseif ($_ -is [System.Management.Automation.InformationRecord]) { "$($_.MessageData)" }
            else { $_ | ConvertTo-Json -Depth 5 -WarningAction Ignore }
        }) -join "`n"
}
