# Remedies in PowerShell name PowerShell's knobs (-TrustedCaPath, -Environment, -RetryUnknownOutcome, -AssertionAlgorithm,
# -Proxy, ...), never the C ABI's JSON settings; and the parameters they recommend exist and reach the native config.
Describe 'Remedies name PowerShell parameters' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        $script:Cert = New-TestCertificate -Subject 'CN=pmp-mail remedies test'
        $script:Emulator = Start-TestEmulator -Directory (Get-TestDirectory -CertificatePem $Cert.ExportCertificatePem())
        $script:sp = Get-SecretParameters
        $script:ep = Get-EndpointParameters
        # The C ABI's setting names; none may reach a PowerShell user.
        $script:JsonSettings = 'retry\.retryUnknownOutcome|retry\.maxAttempts|retryUnknownOutcome:|assertionAlgorithm|extraCaCertificatesPem|allowHttpLoopback|authorityHost|graphRoot|http\.proxy|http\.noProxy|useSystemProxy|"cloud"'

        function Get-FailureOf {
            # Runs the script block with errors made terminating and returns the first one.
            param([scriptblock] $Script)
            try { $null = & $Script -ErrorAction Stop }
            catch { return $_ }
            throw 'The command wrote no error.'
        }
    }
    AfterAll {
        Stop-TestEmulator $script:Emulator
    }
    BeforeEach {
        Invoke-Emulator 'reset' -Method POST | Out-Null
    }

    It 'an unknown outcome recommends -RetryUnknownOutcome, and -RetryUnknownOutcome resends such a message (a possible duplicate)' {
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'dropAfterAccept'; count = 1 }
        $err = Get-FailureOf { param($ErrorAction) Send-PmpMail -To 'ops@contoso.com' -Subject 'unknown' -From $Mailbox @sp -ErrorAction $ErrorAction }
        $err.FullyQualifiedErrorId | Should -Be 'PmpMail.OutcomeUnknown,PmpMail.Commands.SendPmpMailCommand'
        $err.Exception.Remedy | Should -Match '-RetryUnknownOutcome'
        "$err" | Should -Match '-RetryUnknownOutcome'
        "$err" | Should -Not -CMatch $JsonSettings
        $err.Exception | Should -BeOfType ([PmpMail.Interop.PmpMailOutcomeUnknownException])

        Invoke-Emulator 'reset' -Method POST | Out-Null
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'dropAfterAccept'; count = 1 }
        $result = Send-PmpMail -To 'ops@contoso.com' -Subject 'retried' -From $Mailbox @sp -RetryUnknownOutcome -PassThru -WarningVariable warned -WarningAction SilentlyContinue
        $result.Status | Should -Be 'sent'
        $result.Attempts | Should -Be 2
        $result.PossibleDuplicate | Should -BeTrue
        @($warned | Where-Object { "$_" -match 'may have arrived twice' }).Count | Should -Be 1
        @(Get-EmulatorMessages | Where-Object subject -EQ 'retried').Count | Should -Be 2 -Because 'the first attempt was accepted before its answer was lost: the opt-in retry duplicates it'
    }

    It 'a TLS failure recommends -TrustedCaPath' {
        $noCa = @{ AuthorityHost = $Emulator.BaseUrl; GraphRoot = $Emulator.BaseUrl }
        $err = Get-FailureOf { param($ErrorAction) Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -ClientSecret $sp.ClientSecret @noCa -ForceRefresh -ErrorAction $ErrorAction }
        "$err" | Should -Match '-TrustedCaPath'
        "$err" | Should -Not -CMatch $JsonSettings
        $err.Exception.Remedy | Should -Match '-TrustedCaPath'
    }

    It 'an unknown tenant recommends -Environment with its values' {
        $bad = Get-SecretParameters -Tenant 'nosuchtenant.onmicrosoft.com'
        $err = Get-FailureOf { param($ErrorAction) Test-PmpMailPermission @bad -ErrorAction $ErrorAction }
        $err.FullyQualifiedErrorId | Should -Be 'PmpMail.AuthenticationFailed.AADSTS90002,PmpMail.Commands.TestPmpMailPermissionCommand'
        "$err" | Should -Match '-Environment'
        "$err" | Should -Match 'USGov, USGovDoD, China'
        "$err" | Should -Not -CMatch $JsonSettings
    }

    It 'an unregistered certificate recommends -AssertionAlgorithm RS256, which signs RS256 assertions the emulator accepts' {
        $other = New-TestCertificate -Subject 'CN=pmp-mail unregistered'
        $err = Get-FailureOf { param($ErrorAction) Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -Certificate $other @ep -ErrorAction $ErrorAction }
        $err.FullyQualifiedErrorId | Should -Match '^PmpMail\.AuthenticationFailed\.AADSTS'
        "$err" | Should -Match '-AssertionAlgorithm RS256'
        "$err" | Should -Not -CMatch $JsonSettings

        Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -Certificate $Cert @ep -AssertionAlgorithm RS256 -Quiet | Should -BeTrue
        Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -Certificate $Cert @ep -AssertionAlgorithm PS256 -Quiet | Should -BeTrue
    }

    It '-Proxy reaches the connection, and a connection failure recommends -Proxy and -NoProxy' {
        # Nothing listens on port 9 (discard): the proxy refuses, so nothing reaches the emulator.
        $err = Get-FailureOf { param($ErrorAction) Send-PmpMail -To 'ops@contoso.com' -Subject 'proxy' -From $Mailbox @sp -Proxy 'http://127.0.0.1:9' -ErrorAction $ErrorAction }
        "$err" | Should -Match '-Proxy'
        "$err" | Should -Not -CMatch $JsonSettings
        (Get-EmulatorCounters).tokenRequests | Should -Be 0
        Get-EmulatorMessages | Should -BeNullOrEmpty
        # The emulator's own address bypasses the proxy.
        Send-PmpMail -To 'ops@contoso.com' -Subject 'no proxy' -From $Mailbox @sp -Proxy 'http://127.0.0.1:9' -NoProxy '127.0.0.1'
        (Get-EmulatorMessages).subject | Should -Be 'no proxy'
    }

    It 'throttling beyond the wait budget recommends -MaxRetryWaitSeconds, which sets that budget' {
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'status'; status = 429; retryAfterSeconds = 2; count = 10 }
        $err = Get-FailureOf { param($ErrorAction) Send-PmpMail -To 'ops@contoso.com' -Subject 'budget' -From $Mailbox @sp -MaxRetryWaitSeconds 1 -ErrorAction $ErrorAction }
        $err.FullyQualifiedErrorId | Should -Be 'PmpMail.Throttled,PmpMail.Commands.SendPmpMailCommand'
        $err.Exception.Detail.Attempts | Should -Be 1 -Because 'a Retry-After of 2 s does not fit a budget of 1 s'
        "$err" | Should -Match 'raise -MaxRetryWaitSeconds'
        "$err" | Should -Not -CMatch $JsonSettings
        "$err" | Should -Not -CMatch 'maxTotalWaitSeconds'
    }

    It 'throttling beyond the attempt budget recommends -MaxRetryAttempts, which sets that budget' {
        Set-EmulatorFaults @{ path = 'sendMail'; action = 'status'; status = 429; retryAfterSeconds = 1; count = 10 }
        $err = Get-FailureOf { param($ErrorAction) Send-PmpMail -To 'ops@contoso.com' -Subject 'attempts' -From $Mailbox @sp -MaxRetryAttempts 2 -ErrorAction $ErrorAction }
        $err.FullyQualifiedErrorId | Should -Be 'PmpMail.Throttled,PmpMail.Commands.SendPmpMailCommand'
        $err.Exception.Detail.Attempts | Should -Be 2
        "$err" | Should -Match 'All 2 attempts were throttled'
        "$err" | Should -Match 'raise -MaxRetryAttempts'
        "$err" | Should -Not -Match 'MaxRetryWaitSeconds'
        "$err" | Should -Not -CMatch $JsonSettings
        (Get-EmulatorCounters).sendMailRequests | Should -Be 2
        Get-EmulatorMessages | Should -BeNullOrEmpty
    }

    It 'an http:// authority names -AuthorityHost and no JSON setting' {
        $err = Get-FailureOf { param($ErrorAction) Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -ClientSecret $sp.ClientSecret -AuthorityHost 'http://127.0.0.1:9' -ErrorAction $ErrorAction }
        "$err" | Should -Match '-AuthorityHost'
        "$err" | Should -Match 'https://'
        "$err" | Should -Not -CMatch $JsonSettings
    }
}
