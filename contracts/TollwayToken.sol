// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title TollwayToken
/// @notice A minimal, standard ERC-20 token (EIP-20) with 18 decimals, used as
/// the stand-in for USDT, USDC and BUSD on Tollway's local EVM devnet
/// (anvil, chain id 56). The whole supply is minted once, in the constructor,
/// to a given holder; there is no owner, no further minting, no burning, no
/// pausing and no fee. Solidity 0.8's checked arithmetic guards every sum.
contract TollwayToken {
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// @param name_ the token's name, e.g. "Tether USD"
    /// @param symbol_ the token's symbol, e.g. "USDT"
    /// @param initialSupply the whole supply, in the smallest unit (10^-18 of a token)
    /// @param holder who receives the whole supply
    constructor(string memory name_, string memory symbol_, uint256 initialSupply, address holder) {
        require(holder != address(0), "ERC20: mint to the zero address");
        name = name_;
        symbol = symbol_;
        totalSupply = initialSupply;
        balanceOf[holder] = initialSupply;
        emit Transfer(address(0), holder, initialSupply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        require(spender != address(0), "ERC20: approve to the zero address");
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "ERC20: insufficient allowance");
            unchecked {
                allowance[from][msg.sender] = allowed - value;
            }
        }
        _transfer(from, to, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) private {
        require(to != address(0), "ERC20: transfer to the zero address");
        uint256 balance = balanceOf[from];
        require(balance >= value, "ERC20: insufficient balance");
        unchecked {
            balanceOf[from] = balance - value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
